#!/usr/bin/env node
// Benchmark: importing one multi-layer OCI image layout (a Debian bookworm root filesystem,
// a child layer that adds Python and Perl and deletes the docs, and a small app layer) with
// our CLI (vfs, and btrfs on a loop device) and with skopeo into containers-storage (the
// same two drivers), each into a fresh store. Prints medians and ratios (ours / skopeo).
//
//   node packages/cli/bench/import.bench.mjs [--runs N] [--corpus DIR] [--cache DIR]
//
// Needs root, umoci, skopeo, btrfs-progs and the corpus of tools/corpus (tools/setup/install.sh
// builds it; referenceCorpus finds it). The layout is built once with umoci and kept under --cache.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeLoopbackFs, missingReference, referenceCorpus } from '@graphdriver/core/testing';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    corpus: { type: 'string' },
    cache: { type: 'string', default: '/var/cache/graphdriver/bench-oci' },
  },
});
const runs = Number(args.runs);
const corpus = args.corpus ?? referenceCorpus();
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const TAG = 'v3';

const sh = (cmd, argv, opts = {}) => execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });

/** base -> upper -> app, written by umoci (unpack, change, repack), kept for later runs. */
async function buildLayout() {
  const layout = join(args.cache, 'layout');
  if (existsSync(join(layout, 'index.json')) && sh('umoci', ['ls', '--layout', layout]).toString().split('\n').includes(TAG)) return layout;
  if (!corpus) throw new Error(missingReference('corpus'));
  await rm(args.cache, { recursive: true, force: true });
  await mkdir(args.cache, { recursive: true });
  const bundle = join(args.cache, 'bundle');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:empty`]);
  const step = (from, to, fill) => {
    sh('umoci', ['unpack', '--image', `${layout}:${from}`, bundle]);
    fill(join(bundle, 'rootfs'));
    sh('umoci', ['repack', '--image', `${layout}:${to}`, bundle]);
    sh('rm', ['-rf', bundle]);
  };
  step('empty', 'v1', (rootfs) => sh('cp', ['-a', `${corpus}/base/.`, rootfs]));
  step('v1', 'v2', (rootfs) => {
    sh('rm', ['-rf', rootfs]);
    sh('cp', ['-a', `${corpus}/upper`, rootfs]);
  });
  step('v2', TAG, (rootfs) => {
    sh('mkdir', ['-p', `${rootfs}/app`]);
    for (let i = 0; i < 300; i++) sh('sh', ['-c', `printf 'module %d\\n' ${i} > ${rootfs}/app/m${i}.py`]);
  });
  return layout;
}

async function layoutFacts(layout) {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === TAG);
  const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', desc.digest.slice(7)), 'utf8'));
  return { layers: manifest.layers.length, compressed: manifest.layers.reduce((n, l) => n + l.size, 0) };
}

/** Runs `fn(root)` with a fresh store root on ext4 (/tmp) or on a fresh btrfs loop device. */
async function withRoot(fs, fn) {
  if (fs === 'ext4') {
    const dir = await mkdtemp(join(tmpdir(), 'gd-bench-'));
    try {
      return await fn(dir);
    } finally {
      sh('rm', ['-rf', dir]);
    }
  }
  const loop = await makeLoopbackFs('btrfs', { size: 4 * 2 ** 30 });
  try {
    return await fn(join(loop.mountpoint, 'store'));
  } finally {
    await loop.teardown();
  }
}

function timed(cmd, argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const contenders = (layout) => [
  {
    name: 'ours vfs',
    fs: 'ext4',
    run: (root) => timed(process.execPath, [BIN, '-q', '--root', root, '--driver', 'vfs', 'import', `oci:${layout}:${TAG}`]),
  },
  {
    name: 'skopeo vfs',
    fs: 'ext4',
    run: (root) =>
      timed('skopeo', ['copy', '--quiet', `oci:${layout}:${TAG}`, `containers-storage:[vfs@${root}/storage+${root}/run]bench:latest`]),
  },
  {
    name: 'ours btrfs',
    fs: 'btrfs',
    run: (root) => timed(process.execPath, [BIN, '-q', '--root', root, '--driver', 'btrfs', 'import', `oci:${layout}:${TAG}`]),
  },
  {
    name: 'skopeo btrfs',
    fs: 'btrfs',
    run: (root) =>
      timed('skopeo', ['copy', '--quiet', `oci:${layout}:${TAG}`, `containers-storage:[btrfs@${root}/storage+${root}/run]bench:latest`]),
  },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (process.getuid() !== 0) throw new Error('run as root (btrfs loop devices, containers-storage)');
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: build first (pnpm turbo run build --filter @graphdriver/cli)`);
  const layout = await buildLayout();
  const facts = await layoutFacts(layout);
  const loadStart = loadavg()[0];
  sh('sh', ['-c', `cat ${layout}/blobs/sha256/* > /dev/null`]); // every contender reads warm blobs
  // runs are interleaved (ours, skopeo, ours, ...) so that load from elsewhere on the
  // machine falls on every contender alike
  const results = Object.fromEntries(contenders(layout).map((c) => [c.name, { times: [] }]));
  for (let i = 0; i < runs; i++) {
    for (const c of contenders(layout)) {
      sh('sync'); // no dirty pages of the previous run still being written back
      results[c.name].times.push(await withRoot(c.fs, async (root) => c.run(root)));
    }
  }
  for (const [name, r] of Object.entries(results)) {
    r.median = median(r.times);
    console.error(`${name.padEnd(13)} ${r.times.map((t) => `${(t / 1000).toFixed(2)}s`).join(' ')}`);
  }
  const ratio = (a, b) => results[a].median / results[b].median;
  const summary = {
    load1m: { start: +loadStart.toFixed(2), end: +loadavg()[0].toFixed(2) },
    image: { layers: facts.layers, compressedMiB: +(facts.compressed / 2 ** 20).toFixed(1) },
    runs,
    medianSeconds: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, +(v.median / 1000).toFixed(2)])),
    ratios: { vfs: +ratio('ours vfs', 'skopeo vfs').toFixed(2), btrfs: +ratio('ours btrfs', 'skopeo btrfs').toFixed(2) },
  };
  console.log(JSON.stringify(summary));
  await writeFile(join(args.cache, 'last-result.json'), JSON.stringify(summary, null, 2));
}

main().catch((err) => {
  console.error(`import.bench: ${err.message}`);
  process.exit(1);
});
