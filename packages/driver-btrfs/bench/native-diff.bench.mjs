#!/usr/bin/env node
// Native (btrfs send) vs naive (core's changesDirs) change lists on a loopback btrfs:
// a layer of FILES files and a child snapshot with CHANGED changes, both diffs timed over
// ROUNDS rounds (warm page cache), medians printed. The native path keeps a read-only
// snapshot per layer while it is current, so after the first round it reuses both; what
// a diff that has to make one or two snapshots costs is printed after. Also the two ways
// of reading a send stream: the in-process binary reader vs `btrfs receive --dump` + its
// text parser.
//
//   pnpm turbo run build --filter @graphdriver/driver-btrfs
//   node packages/driver-btrfs/bench/native-diff.bench.mjs [--files 50000] [--rounds 15] [--image-dir /dev/shm] [--no-read-first]
//
// --image-dir holds the loop device's sparse image (default: the OS temp dir). A btrfs
// snapshot commits a transaction, which on a loop device means flushing the image file:
// on a busy shared disk that dominates the native figure, on tmpfs it costs what a fast
// SSD's flush would.
//
// Needs root (loop devices). Leaves no loop device or mount behind.
import { mkdirSync, writeFileSync, unlinkSync, chmodSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { changesDirs, formatChange, tool } from '@graphdriver/core';
import { createBtrfs, openBtrfs, parseReceiveDump, parseSendStream } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '50000' },
    changed: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '15' },
    'image-dir': { type: 'string', default: tmpdir() },
    'no-read-first': { type: 'boolean', default: false },
  },
});
const FILES = Number(args.files);
const CHANGED = Number(args.changed);
const ROUNDS = Number(args.rounds);
const PER_DIR = 500;

const losetup = tool('losetup');
const mkfs = tool('mkfs.btrfs');
const mount = tool('mount');
const umount = tool('umount');
const btrfs = createBtrfs();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${x.toFixed(1)} ms`;
async function time(fn) {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

/** A loopback btrfs, torn down by the returned function. */
async function loopback(size) {
  const work = await mkdtemp(join(args['image-dir'], 'btrfs-bench-'));
  const image = join(work, 'image');
  const mnt = join(work, 'mnt');
  await writeFile(image, '');
  await truncate(image, size);
  await mkdir(mnt);
  const device = (await losetup.run(['-f', '--show', image])).stdout.trim();
  let mounted = false;
  const teardown = async () => {
    if (mounted) await umount.run([mnt]).catch(() => umount.run(['-l', mnt]));
    await losetup.run(['-d', device]).catch(() => {});
    await rm(work, { recursive: true, force: true });
  };
  try {
    await mkfs.run(['-q', '-f', device]);
    await mount.run([device, mnt]);
    mounted = true;
  } catch (err) {
    await teardown();
    throw err;
  }
  return { mnt, teardown };
}

function fillLayer(root, files) {
  const payload = Buffer.alloc(64, 7);
  for (let i = 0; i < files; i += PER_DIR) {
    const dir = join(root, `dir-${i / PER_DIR}`);
    mkdirSync(dir);
    for (let j = i; j < Math.min(files, i + PER_DIR); j++) writeFileSync(join(dir, `file-${j}`), payload);
  }
}

/** Lists every directory (what a naive walk reads), writing the atimes relatime writes. */
function readTree(root) {
  for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) readTree(join(root, e.name));
}

/** `count` changes spread over the tree: modify, add, delete, chmod in turn. */
function changeLayer(root, files, count) {
  const step = Math.max(1, Math.floor(files / count));
  for (let k = 0; k < count; k++) {
    const j = (k * step + 17) % files;
    const path = join(root, `dir-${Math.floor(j / PER_DIR)}`, `file-${j}`);
    switch (k % 4) {
      case 0:
        writeFileSync(path, 'modified, and longer than before: '.repeat(3));
        break;
      case 1:
        writeFileSync(`${path}.new`, 'added');
        break;
      case 2:
        unlinkSync(path);
        break;
      case 3:
        chmodSync(path, 0o600);
        break;
    }
  }
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root (loop devices)');
  console.log(`# btrfs native diff bench: ${FILES} files, ${CHANGED} changed, ${ROUNDS} rounds`);
  console.log(
    `# ${new Date().toISOString()}  node ${process.version}  ${cpus().length} CPUs  load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}  image in ${args['image-dir']}`,
  );
  const lb = await loopback(Math.max(1 << 30, FILES * 8192));
  let driver;
  try {
    const home = join(lb.mnt, 'home');
    const opened = await openBtrfs(home);
    driver = opened.driver;
    const backend = opened.backend;

    await driver.create('base', null);
    const [tFill] = await time(() => fillLayer(backend.path('base'), FILES));
    // Read once before the timed rounds, as a layer that has been used: with relatime a
    // directory's first read after its last change writes its atime, which would make the
    // timed naive walks write atimes into both layers (100 directories each, not the 10
    // changes the bench is about) and so change the pair between rounds. --no-read-first
    // skips this, as the bench did at first.
    if (!args['no-read-first']) readTree(backend.path('base'));
    await driver.create('child', 'base');
    changeLayer(backend.path('child'), FILES, CHANGED);
    if (!args['no-read-first']) readTree(backend.path('child'));
    console.log(`# layer filled in ${ms(tFill)}`);

    const native = [];
    const naive = [];
    let nativeList;
    let naiveList;
    for (let r = 0; r < ROUNDS; r++) {
      const before = backend.diffStats.native;
      const [tn, n] = await time(() => driver.changes('child', 'base'));
      if (backend.diffStats.native !== before + 1) throw new Error(`native path declined: ${backend.diffStats.lastFallback}`);
      const [tv, v] = await time(() => changesDirs(backend.path('child'), backend.path('base')));
      native.push(tn);
      naive.push(tv);
      nativeList = n.map(formatChange);
      naiveList = v.map(formatChange);
    }
    if (JSON.stringify(nativeList) !== JSON.stringify(naiveList)) throw new Error('native and naive lists differ');
    const mn = median(native);
    const mv = median(naive);
    console.log(`changes: ${nativeList.length} entries (equal)`);
    console.log(`native changes  median ${ms(mn)}  (runs: ${native.map((x) => x.toFixed(0)).join(' ')})`);
    console.log(`naive changes   median ${ms(mv)}  (runs: ${naive.map((x) => x.toFixed(0)).join(' ')})`);
    console.log(
      `ratio naive/native: ${(mv / mn).toFixed(1)}x  (${backend.diffStats.snapshotsMade} snapshots made, ${backend.diffStats.snapshotsReused} reused)`,
    );

    // Where the native time goes, with both layers' read-only snapshots kept and current:
    // the currency check (a sync, then one subvolume listing) runs alongside the read of the
    // pair (send + parse + compare); and what starting one btrfs process costs now.
    const check = [];
    const between = [];
    const bare = [];
    for (let r = 0; r < ROUNDS; r++) {
      const { pair } = await backend.native.changes('child', 'base');
      const [tc] = await time(async () => {
        await btrfs.filesystemSync(backend.snapshotsDir);
        await btrfs.subvolumeList(backend.snapshotsDir, { details: true });
      });
      const [tb] = await time(() => backend.native.changesBetween(pair));
      pair.release();
      const [tv] = await time(() => btrfs.version());
      check.push(tc);
      between.push(tb);
      bare.push(tv);
    }
    console.log(
      `native breakdown (medians): sync + subvolume list ${ms(median(check))}, send + parse + compare ${ms(median(between))} (the two run in parallel); one bare btrfs process ${ms(median(bare))}`,
    );

    // When the kept snapshots cannot be used: the child was written since its snapshot (it
    // gets a new one), or no layer has one (the first diff of the pair: two are made).
    const touched = join(backend.path('child'), 'dir-0', 'file-17');
    const afterWrite = [];
    const first = [];
    for (let r = 0; r < ROUNDS; r++) {
      writeFileSync(touched, 'modified, and longer than before: '.repeat(3));
      const made = backend.diffStats.snapshotsMade;
      const [tw, w] = await time(() => driver.changes('child', 'base'));
      if (backend.diffStats.snapshotsMade !== made + 1) throw new Error('the written child should have had one new snapshot');
      await backend.native.drop('child');
      await backend.native.drop('base');
      const [tf, f] = await time(() => driver.changes('child', 'base'));
      if (backend.diffStats.snapshotsMade !== made + 3) throw new Error('the first diff should have made two snapshots');
      if (
        JSON.stringify(w.map(formatChange)) !== JSON.stringify(naiveList) ||
        JSON.stringify(f.map(formatChange)) !== JSON.stringify(naiveList)
      ) {
        throw new Error('native lists differ from the naive one');
      }
      afterWrite.push(tw);
      first.push(tf);
    }
    console.log(
      `native changes after a write to the child (1 new snapshot)  median ${ms(median(afterWrite))}  (runs: ${afterWrite.map((x) => x.toFixed(0)).join(' ')})  naive/this ${(mv / median(afterWrite)).toFixed(1)}x`,
    );
    console.log(
      `native changes with no kept snapshot (2 new snapshots)      median ${ms(median(first))}  (runs: ${first.map((x) => x.toFixed(0)).join(' ')})  naive/this ${(mv / median(first)).toFixed(1)}x`,
    );
    console.log(
      `# load at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );

    // Reading the send stream: binary in-process vs `btrfs receive --dump` + text parse.
    const ro = (n) => join(backend.tmpDir, `bench-${n}`);
    await btrfs.subvolumeSnapshot(backend.path('base'), ro('old'), { readonly: true });
    await btrfs.subvolumeSnapshot(backend.path('child'), ro('new'), { readonly: true });
    const streamFile = join(backend.tmpDir, 'bench.stream');
    const [tSend] = await time(() => btrfs.send(ro('new'), streamFile, { parent: ro('old'), noData: true }));
    const bin = [];
    const dump = [];
    let nOps = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const [tb, s] = await time(async () => parseSendStream(readFileSync(streamFile)));
      const [td, d] = await time(async () => parseReceiveDump(await btrfs.receiveDump(streamFile)));
      if (d.length !== s.ops.length - 1) throw new Error(`dump has ${d.length} ops, binary ${s.ops.length}`);
      nOps = s.ops.length;
      bin.push(tb);
      dump.push(td);
    }
    console.log(`send --no-data: ${ms(tSend)} for ${nOps} commands`);
    console.log(`stream read: binary median ${ms(median(bin))}, receive --dump + parse median ${ms(median(dump))}`);
    await rm(streamFile, { force: true });
    await btrfs.subvolumeDelete(ro('old'));
    await btrfs.subvolumeDelete(ro('new'));
  } finally {
    await driver?.cleanup();
    await lb.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
