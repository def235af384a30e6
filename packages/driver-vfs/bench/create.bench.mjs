#!/usr/bin/env node
// vfs create of a child of the Debian corpus base, ours against Docker's own DirCopy
// (`moby-archive-bench copy SRC DST`), on the host's ext4 and on a loopback btrfs (where
// both clone extents; a full copy with `cp --reflink=never` is measured there too, for the
// speed-up reflinks give). Rounds alternate which side goes first; medians are reported.
//
// Usage: node packages/driver-vfs/bench/create.bench.mjs [--rounds N] [--corpus DIR] [--json]
// Needs root (loop devices), the built dist (pnpm build), /usr/local/bin/moby-archive-bench.
import { execFile as execFileCb } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const execFile = promisify(execFileCb);
const here = fileURLToPath(new URL('.', import.meta.url));
const { init } = await import(join(here, '..', 'dist', 'index.js'));
const { makeLoopbackFs } = await import('@graphdriver/core/testing');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', '7'));
const CORPUS = opt('--corpus', '/var/cache/graphdriver-corpus/base');
const MOBY = opt('--moby', '/usr/local/bin/moby-archive-bench');
const JSON_OUT = args.includes('--json');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const sync = () => execFile('sync');

/** Time of one async step, in ms. */
async function timed(fn) {
  await sync(); // each side starts with nothing dirty of the other's
  const t0 = process.hrtime.bigint();
  await fn();
  return ms(t0);
}

async function corpusStats() {
  const { stdout } = await execFile('du', ['-s', '--block-size=1', '--apparent-size', CORPUS]);
  const { stdout: n } = await execFile('sh', ['-c', `find "${CORPUS}" | wc -l`]);
  return { bytes: Number(stdout.split('\t')[0]), entries: Number(n.trim()) };
}

/** One filesystem: a vfs home with the corpus as layer `base`, then ROUNDS alternating rounds. */
async function benchOn(label, dir, { fullCopy }) {
  const home = await mkdtemp(join(dir, 'vfs-bench-'));
  const scratch = await mkdtemp(join(dir, 'moby-bench-'));
  const d = await init(home, []);
  const out = { label, ours: [], moby: [], mobySelf: [], full: [] };
  try {
    await d.create('base', null);
    const base = await d.get('base');
    // setup, not measured: the corpus as the base layer's content
    await execFile('cp', ['-a', '--reflink=auto', '--no-target-directory', CORPUS, base]);
    await d.put('base');
    for (let r = 0; r < ROUNDS; r++) {
      const ours = async () => {
        const id = `child-${r}`;
        out.ours.push(await timed(() => d.create(id, 'base')));
        await d.remove(id);
      };
      const moby = async () => {
        const dst = join(scratch, `copy-${r}`);
        let self = 0;
        out.moby.push(
          await timed(async () => {
            const { stdout } = await execFile(MOBY, ['copy', base, dst]);
            self = JSON.parse(stdout.trim().split('\n').pop()).ms;
          }),
        );
        out.mobySelf.push(self);
        await rm(dst, { recursive: true, force: true });
      };
      const full = async () => {
        const dst = join(scratch, `full-${r}`);
        out.full.push(await timed(() => execFile('cp', ['-a', '--reflink=never', '--no-target-directory', base, dst])));
        await rm(dst, { recursive: true, force: true });
      };
      const order = r % 2 === 0 ? [ours, moby] : [moby, ours];
      if (fullCopy) order.push(full);
      for (const step of order) await step();
      process.stderr.write(`${label} round ${r + 1}/${ROUNDS}: ours ${out.ours.at(-1).toFixed(0)} ms, moby ${out.moby.at(-1).toFixed(0)} ms${fullCopy ? `, full copy ${out.full.at(-1).toFixed(0)} ms` : ''}\n`);
    }
  } finally {
    await d.cleanup();
    await rm(home, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
  const res = {
    label,
    rounds: ROUNDS,
    oursMedianMs: median(out.ours),
    mobyMedianMs: median(out.moby),
    mobySelfReportedMedianMs: median(out.mobySelf),
    ratioOursOverMoby: median(out.ours) / median(out.moby),
    // on a shared, busy machine the fastest round shows what each side does undisturbed
    oursMinMs: Math.min(...out.ours),
    mobyMinMs: Math.min(...out.moby),
  };
  if (fullCopy) {
    res.fullCopyMedianMs = median(out.full);
    res.speedupVsFullCopy = median(out.full) / median(out.ours);
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

const results = [];
results.push(await benchOn('ext4 (/var/tmp)', '/var/tmp', { fullCopy: false }));
const btrfs = await makeLoopbackFs('btrfs', { size: 4 * 2 ** 30 });
try {
  results.push(await benchOn('btrfs (loopback)', btrfs.mountpoint, { fullCopy: true }));
} finally {
  await btrfs.teardown();
}

if (JSON_OUT) {
  console.log(JSON.stringify({ machine, corpus, results }, null, 2));
} else {
  console.log(`vfs create of a child of ${corpus.path} (${(corpus.bytes / 2 ** 20).toFixed(0)} MiB, ${corpus.entries} entries)`);
  console.log(`${machine.date}, ${machine.cpu} x${machine.cores}, Linux ${machine.kernel}, load ${machine.load}, ${ROUNDS} rounds, medians`);
  console.log('| filesystem | ours (vfs create) | moby DirCopy (wall) | moby (self-reported) | ours / moby | fastest round: ours / moby | full copy (cp --reflink=never) | speed-up vs full copy |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const f = (x) => (x === undefined ? '-' : `${x.toFixed(0)} ms`);
    console.log(
      `| ${r.label} | ${f(r.oursMedianMs)} | ${f(r.mobyMedianMs)} | ${f(r.mobySelfReportedMedianMs)} | ${r.ratioOursOverMoby.toFixed(2)} | ${f(r.oursMinMs)} / ${f(r.mobyMinMs)} | ${f(r.fullCopyMedianMs)} | ${r.speedupVsFullCopy ? `${r.speedupVsFullCopy.toFixed(1)}x` : '-'} |`,
    );
  }
}
