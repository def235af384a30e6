#!/usr/bin/env node
// Native (btrfs send) vs naive (core's changesDirs) change lists on a loopback btrfs:
// a layer of FILES files and a child snapshot with CHANGED changes, both diffs timed over
// ROUNDS rounds (warm page cache), medians printed. Also the two ways of reading a send
// stream: the in-process binary reader vs `btrfs receive --dump` + its text parser.
//
//   pnpm turbo run build --filter @graphdriver/driver-btrfs
//   node packages/driver-btrfs/bench/native-diff.bench.mjs [--files 50000] [--rounds 7] [--image-dir /dev/shm]
//
// --image-dir holds the loop device's sparse image (default: the OS temp dir). A btrfs
// snapshot commits a transaction, which on a loop device means flushing the image file:
// on a busy shared disk that dominates the native figure, on tmpfs it costs what a fast
// SSD's flush would.
//
// Needs root (loop devices). Leaves no loop device or mount behind.
import { mkdirSync, writeFileSync, unlinkSync, chmodSync, readFileSync } from 'node:fs';
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
    rounds: { type: 'string', default: '7' },
    'image-dir': { type: 'string', default: tmpdir() },
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
  console.log(`# ${new Date().toISOString()}  node ${process.version}  ${cpus().length} CPUs  load ${loadavg().map((l) => l.toFixed(1)).join(' ')}  image in ${args['image-dir']}`);
  const lb = await loopback(Math.max(1 << 30, FILES * 8192));
  let driver;
  try {
    const home = join(lb.mnt, 'home');
    const opened = await openBtrfs(home);
    driver = opened.driver;
    const backend = opened.backend;

    await driver.create('base', null);
    const [tFill] = await time(() => fillLayer(backend.path('base'), FILES));
    await driver.create('child', 'base');
    changeLayer(backend.path('child'), FILES, CHANGED);
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
    console.log(`ratio naive/native: ${(mv / mn).toFixed(1)}x`);

    // Where the native time goes: snapshots (a transaction commit), send + our part, and
    // what starting one btrfs process costs at this moment.
    const snaps = [];
    const between = [];
    const bare = [];
    for (let r = 0; r < ROUNDS; r++) {
      const [ts, pair] = await time(() => backend.native.snapshots('child', 'base'));
      const [tb] = await time(() => backend.native.changesBetween(pair));
      await pair.release();
      const [tv] = await time(() => btrfs.version());
      snaps.push(ts);
      between.push(tb);
      bare.push(tv);
    }
    console.log(
      `native breakdown (medians): checks + 2 read-only snapshots ${ms(median(snaps))}, send + parse + compare ${ms(median(between))}; one bare btrfs process ${ms(median(bare))}`,
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
