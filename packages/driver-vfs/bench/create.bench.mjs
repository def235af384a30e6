#!/usr/bin/env node
// vfs create of a child of the Debian corpus base, ours against Docker's own DirCopy
// (`moby-archive-bench copy SRC DST`), on the host's ext4, on a loopback ext4 and on a
// loopback btrfs (where both clone extents). On btrfs two references are measured too: a
// full copy (`cp -a --reflink=never`), for the speed-up reflinks give, and the same tree
// made without any file content (`cp -a --attributes-only`): the entries alone, which no
// copy that creates them can beat, so full / no-data bounds the speed-up reflinks can give.
//
// Honest timings: every timing ends with `sync -f` (syncfs) of the filesystem written to,
// so each side pays for getting its data and metadata to disk, not only into the page
// cache (a full copy is done once its data is written; a vfs create fsyncs core's layer
// records on the way, a bare DirCopy does not). Before each timing a global `sync` (not
// timed) leaves nothing dirty of the step before. The source is warm in the page cache
// for every side alike. Rounds rotate the order of the sides (each side in each position
// equally often, in both directions); medians are reported, with the load average.
//
// Usage: node packages/driver-vfs/bench/create.bench.mjs [--rounds N] [--corpus DIR]
//          [--only ext4,ext4-loop,btrfs] [--json]
// Needs root (loop devices), the built dist (pnpm build), the peer and the corpus (tools/peer,
// tools/corpus; found by referencePeer/referenceCorpus of @graphdriver/core/testing).
import { execFile as execFileCb } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const execFile = promisify(execFileCb);
const here = fileURLToPath(new URL('.', import.meta.url));
const { init } = await import(join(here, '..', 'dist', 'index.js'));
const { makeLoopbackFs, referenceCorpus, referencePeer, missingReference } = await import('@graphdriver/core/testing');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', '9'));
const CORPUS = opt('--corpus', referenceCorpus() && `${referenceCorpus()}/base`);
const MOBY = opt('--moby', referencePeer());
if (!CORPUS) throw new Error(missingReference('corpus'));
if (!MOBY) throw new Error(missingReference('peer'));
const ONLY = opt('--only', '');
const JSON_OUT = args.includes('--json');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const since = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const sync = (...a) => execFile('sync', a);
const loadavg = async () => Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);

/** One step: ms until it returned (`done`) and until what it wrote to `fsDir`'s filesystem was on disk (`synced`). */
async function timed(fn, fsDir) {
  await sync(); // nothing dirty of the step before (not timed)
  const t0 = process.hrtime.bigint();
  await fn();
  const done = since(t0);
  await sync('-f', fsDir); // syncfs: this step's data and metadata, on disk
  return { done, synced: since(t0) };
}

/** Round r's order of n sides: rotated by r, reversed every other cycle. */
function order(r, n) {
  const rot = Array.from({ length: n }, (_, i) => (i + r) % n);
  return Math.floor(r / n) % 2 ? rot.reverse() : rot;
}

async function corpusStats() {
  // btrfs keeps files up to max_inline (2048 bytes by default) inline in its metadata:
  // cloning those copies metadata items, not extents.
  const { stdout } = await execFile('find', [CORPUS, '-printf', '%y %s\\n'], { maxBuffer: 1 << 30 });
  const s = { entries: 0, files: 0, bytes: 0, inlineSizedFiles: 0, inlineSizedBytes: 0 };
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    s.entries++;
    const [type, size] = line.split(' ');
    if (type !== 'f') continue;
    s.files++;
    s.bytes += Number(size);
    if (Number(size) <= 2048) {
      s.inlineSizedFiles++;
      s.inlineSizedBytes += Number(size);
    }
  }
  return s;
}

/** One filesystem: a vfs home with the corpus as layer `base`, then ROUNDS rounds. */
async function benchOn(label, dir, { references }) {
  const home = await mkdtemp(join(dir, 'vfs-bench-'));
  const scratch = await mkdtemp(join(dir, 'moby-bench-'));
  const d = await init(home, []);
  const names = ['ours', 'moby', ...(references ? ['full', 'nodata'] : [])];
  const out = { label, load: [], mobySelf: [], ...Object.fromEntries(names.map((n) => [n, []])) };
  try {
    await d.create('base', null);
    const base = await d.get('base');
    // setup, not measured: the corpus as the base layer's content
    await execFile('cp', ['-a', '--reflink=auto', '--no-target-directory', CORPUS, base]);
    await d.put('base');
    for (let r = 0; r < ROUNDS; r++) {
      const cpSide = (flag) => async () => {
        const dst = join(scratch, `${flag}-${r}`);
        out[flag === '--reflink=never' ? 'full' : 'nodata'].push(
          await timed(() => execFile('cp', ['-a', flag, '--no-target-directory', base, dst]), scratch),
        );
        await rm(dst, { recursive: true, force: true });
      };
      const sides = {
        ours: async () => {
          out.ours.push(await timed(() => d.create(`child-${r}`, 'base'), home));
          await d.remove(`child-${r}`);
        },
        moby: async () => {
          const dst = join(scratch, `copy-${r}`);
          let self = 0;
          out.moby.push(
            await timed(async () => {
              const { stdout } = await execFile(MOBY, ['copy', base, dst]);
              self = JSON.parse(stdout.trim().split('\n').pop()).ms;
            }, scratch),
          );
          out.mobySelf.push(self);
          await rm(dst, { recursive: true, force: true });
        },
        full: cpSide('--reflink=never'),
        nodata: cpSide('--attributes-only'),
      };
      out.load.push(await loadavg());
      for (const i of order(r, names.length)) await sides[names[i]]();
      const last = names.map((n) => `${n} ${out[n].at(-1).synced.toFixed(0)}`).join(', ');
      process.stderr.write(`${label} round ${r + 1}/${ROUNDS} (load ${out.load.at(-1)}): ${last} ms\n`);
    }
  } finally {
    await d.cleanup();
    await rm(home, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
  const med = (n, k = 'synced') => median(out[n].map((x) => x[k]));
  const res = {
    label,
    rounds: ROUNDS,
    load: { min: Math.min(...out.load), median: median(out.load), max: Math.max(...out.load) },
    medianMs: Object.fromEntries(names.map((n) => [n, med(n)])),
    // without the final syncfs: what the figures before this benchmark measured
    medianUntilReturnedMs: Object.fromEntries(names.map((n) => [n, med(n, 'done')])),
    mobySelfReportedMedianMs: median(out.mobySelf),
    ratioOursOverMoby: med('ours') / med('moby'),
    // the same rounds paired: less swayed by load that drifts over the run
    medianRoundRatio: median(out.ours.map((x, i) => x.synced / out.moby[i].synced)),
  };
  if (references) {
    res.speedupVsFullCopy = med('full') / med('ours');
    res.medianRoundSpeedup = median(out.full.map((x, i) => x.synced / out.ours[i].synced));
    res.speedupBoundFullOverNoData = med('full') / med('nodata');
  }
  res.samples = out;
  return res;
}

const machine = {
  date: new Date().toISOString(),
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  kernel: release(),
  load: (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' '),
};
const corpus = { path: CORPUS, ...(await corpusStats()) };

// ext4: the host's own (/var/tmp; its syncfs also flushes whatever other processes left
// dirty there, and the journal commits of core's fsyncs wait on their writes too) and a
// loopback ext4 of our own (its syncfs flushes only what the sides wrote).
const targets = {
  ext4: { label: 'ext4 (/var/tmp)', references: false },
  'ext4-loop': { label: 'ext4 (loopback)', kind: 'ext4', references: false },
  btrfs: { label: 'btrfs (loopback)', kind: 'btrfs', references: true },
};
const results = [];
for (const name of ONLY ? ONLY.split(',') : Object.keys(targets)) {
  const t = targets[name];
  if (!t) throw new Error(`--only: unknown target ${name} (${Object.keys(targets).join(', ')})`);
  const fs = t.kind ? await makeLoopbackFs(t.kind, { size: 4 * 2 ** 30 }) : undefined;
  try {
    results.push(await benchOn(t.label, fs ? fs.mountpoint : '/var/tmp', t));
  } finally {
    await fs?.teardown();
  }
}
machine.loadAfter = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

if (JSON_OUT) {
  console.log(JSON.stringify({ machine, corpus, results }, null, 2));
} else {
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  console.log(
    `vfs create of a child of ${corpus.path}: ${corpus.entries} entries, ${corpus.files} files, ${mib(corpus.bytes)} MiB; ` +
      `${corpus.inlineSizedFiles} files <= 2048 bytes (btrfs inlines them) hold ${mib(corpus.inlineSizedBytes)} MiB (${((100 * corpus.inlineSizedBytes) / corpus.bytes).toFixed(1)}% of the bytes)`,
  );
  console.log(
    `${machine.date}, ${machine.cpu} x${machine.cores}, Linux ${machine.kernel}, load ${machine.load} before, ${machine.loadAfter} after; ` +
      `${ROUNDS} rounds, medians, each timing until syncfs of what it wrote`,
  );
  const f = (x) => (x === undefined ? '-' : `${x.toFixed(0)} ms`);
  console.log(
    '| filesystem | load (1 min) min / median / max | ours (vfs create) | moby DirCopy | ours / moby | median of round ratios | full copy | no-data copy | speed-up vs full copy | bound: full / no-data |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const m = r.medianMs;
    console.log(
      `| ${r.label} | ${r.load.min} / ${r.load.median} / ${r.load.max} | ${f(m.ours)} | ${f(m.moby)} | ${r.ratioOursOverMoby.toFixed(2)} | ${r.medianRoundRatio.toFixed(2)} | ${f(m.full)} | ${f(m.nodata)} | ${r.speedupVsFullCopy ? `${r.speedupVsFullCopy.toFixed(1)}x (rounds: ${r.medianRoundSpeedup.toFixed(1)}x)` : '-'} | ${r.speedupBoundFullOverNoData ? `${r.speedupBoundFullOverNoData.toFixed(1)}x` : '-'} |`,
    );
  }
  console.log('\nuntil the step returned (no syncfs), medians:');
  for (const r of results) {
    console.log(
      `  ${r.label}: ${Object.entries(r.medianUntilReturnedMs)
        .map(([k, v]) => `${k} ${f(v)}`)
        .join(', ')}; moby self-reported ${f(r.mobySelfReportedMedianMs)}`,
    );
  }
}
