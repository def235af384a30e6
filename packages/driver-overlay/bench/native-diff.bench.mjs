#!/usr/bin/env node
// overlay2 on a directory of the host (ext4 under /var/tmp by default): creating a child of
// a FILES-file layer, and changes/diff of a child with CHANGED changed files, native (the
// upper dir alone) against naive (core's walk of both mounted trees), medians of ROUNDS
// rounds with a warm page cache.
//
//   pnpm turbo run build --filter @graphdriver/driver-overlay
//   node packages/driver-overlay/bench/native-diff.bench.mjs [--files 50000] [--changed 10] [--rounds 9] [--dir /var/tmp]
//
// Needs root (kernel overlay). Leaves nothing mounted.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { changesDirs, exportChanges, packEntries } from '@graphdriver/core';
import { openOverlay } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '50000' },
    changed: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '9' },
    dir: { type: 'string', default: '/var/tmp' },
  },
});
const FILES = Number(args.files);
const CHANGED = Number(args.changed);
const ROUNDS = Number(args.rounds);
const PER_DIR = 500;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
async function time(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
async function drain(stream) {
  let n = 0;
  for await (const c of stream) n += c.length;
  return n;
}

/** A layer tar of FILES small files in directories of PER_DIR. */
function baseTar() {
  function* entries() {
    for (let d = 0; d * PER_DIR < FILES; d++) {
      yield { header: { name: `d${d}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000 } };
      for (let f = 0; f < PER_DIR && d * PER_DIR + f < FILES; f++) {
        const body = Buffer.from(`file ${d}/${f}\n`);
        yield { header: { name: `d${d}/f${f}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000 }, body };
      }
    }
  }
  return Readable.from(packEntries(entries()));
}

const work = await mkdtemp(join(args.dir, 'gd-overlay-bench-'));
const { driver: d, backend } = await openOverlay(join(work, 'overlay2'));
try {
  await d.create('base', null);
  await d.applyDiff('base', null, baseTar());

  const creates = [];
  for (let i = 0; i < ROUNDS; i++) {
    creates.push(await time(() => d.create(`c${i}`, 'base')));
    await d.remove(`c${i}`);
  }

  await d.createReadWrite('child', 'base');
  const root = await d.get('child');
  for (let i = 0; i < CHANGED; i++) await writeFile(join(root, `d${i % Math.ceil(FILES / PER_DIR)}`, `f${i}`), `changed ${i}\n`);
  await d.put('child');

  const rows = { changesNative: [], changesNaive: [], diffNative: [], diffNaive: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const before = backend.diffStats.native;
    rows.changesNative.push(await time(() => d.changes('child', 'base')));
    if (backend.diffStats.native !== before + 1) throw new Error(`native diff declined: ${backend.diffStats.lastReason}`);
    rows.changesNaive.push(
      await time(async () => {
        const [c, p] = [await d.get('child'), await d.get('base')];
        await changesDirs(c, p);
        await d.put('base');
        await d.put('child');
      }),
    );
    // diffs end in the next second, as core's naive diff does: the export alone is timed here
    rows.diffNative.push(await time(async () => drain(exportChanges(backend.layout.diff('child'), await d.changes('child', 'base')))));
    rows.diffNaive.push(
      await time(async () => {
        const [c, p] = [await d.get('child'), await d.get('base')];
        await drain(exportChanges(c, await changesDirs(c, p)));
        await d.put('base');
        await d.put('child');
      }),
    );
  }
  const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
  const fmt = (x) => `${x.toFixed(1)} ms`;
  console.log(`overlay2 on ${args.dir}: ${FILES} files in the parent, ${CHANGED} changed, ${ROUNDS} rounds (medians)`);
  console.log(`create a child            ${fmt(median(creates))}`);
  console.log(
    `changes   native ${fmt(m.changesNative)}   naive ${fmt(m.changesNaive)}   x${(m.changesNaive / m.changesNative).toFixed(0)}`,
  );
  console.log(`diff      native ${fmt(m.diffNative)}   naive ${fmt(m.diffNaive)}   x${(m.diffNaive / m.diffNative).toFixed(0)}`);
} finally {
  await d.cleanup();
  await rm(work, { recursive: true, force: true });
}
