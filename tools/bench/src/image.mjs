#!/usr/bin/env node
// Pull and push rows: `graphdriver pull`/`push` (vfs) against the tools a user would pick, on
// the same disk and the same local docker-registry (plain http on loopback):
//   pull: skopeo copy docker://… containers-storage:[vfs@ROOT+RUNROOT] (what podman pull does),
//         and skopeo copy into oci: followed by our import (two processes, timed together);
//   push: skopeo copy containers-storage:… docker://… (what podman push does).
// Images: the corpus (base + upper as two layers) and one single-layer image of a 1 GiB
// incompressible file. Each push goes to a registry started for that run, so neither tool can
// skip a blob the registry already holds. Every run is a fresh process in a fresh store;
// tools alternate and take turns going first, after one warm-up round that is not counted.
// Reported: median wall time, CPU (user + system of the process and its children, e.g. igzip,
// pigz) and peak RSS (/usr/bin/time).
//
// Standalone: node tools/bench/src/image.mjs (BENCH_IMAGE_ROUNDS=3, BENCH_IMAGE_BIG=1,
// BENCH_RESULTS_IMAGE=tools/bench/RESULTS-image.md); `pnpm bench` runs it after its own cases.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
// the CLI's entry file itself: a package-manager shim would add a shell's start-up to every row
const BIN = fileURLToPath(import.meta.resolve('@graphdriver/cli/bin'));
const TIME = '/usr/bin/time';

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** One run under /usr/bin/time: wall ms, CPU ms (children included), peak RSS KiB. */
function timed(argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(TIME, ['-f', '%M %U %S', ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const last = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wallMs, rssKB: last[0], cpuMs: (last[1] + last[2]) * 1000, stdout: r.stdout };
}

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/** Builds the two test images as OCI layouts with our own export (gzip), in `work`. */
async function buildImages(work, corpus, big) {
  const core = await import('@graphdriver/core');
  await import('@graphdriver/driver-vfs');
  const image = await import('@graphdriver/image');
  const driver = await core.newDriver('vfs', { root: join(work, 'build-store'), driverOptions: [] });
  const layouts = {};
  try {
    await driver.create('base', null);
    await driver.applyDiff('base', null, createReadStream(join(corpus, 'base.tar')));
    await driver.create('upper', 'base');
    const changes = await core.changesDirs(join(corpus, 'upper'), join(corpus, 'base'));
    await driver.applyDiff('upper', 'base', core.exportChanges(join(corpus, 'upper'), changes));
    layouts.corpus = join(work, 'layout-corpus');
    await image.exportTo(driver, 'upper', `oci:${layouts.corpus}:1`);
    if (big) {
      const dir = join(work, 'big-src');
      mkdirSync(dir, { recursive: true });
      sh('sh', ['-c', `head -c ${1 << 30} /dev/urandom > ${join(dir, 'big.bin')}`]);
      await driver.create('big', null);
      await driver.applyDiff('big', null, core.tarDirectory(dir));
      rmSync(dir, { recursive: true, force: true });
      layouts.big = join(work, 'layout-big');
      await image.exportTo(driver, 'big', `oci:${layouts.big}:1`);
    }
  } finally {
    await core.closeDriver(driver);
    rmSync(join(work, 'build-store'), { recursive: true, force: true });
  }
  return layouts;
}

export async function imageBench({ rounds = 3, big = true, corpus, work } = {}) {
  const testing = await import('@graphdriver/image/testing');
  const layouts = await buildImages(work, corpus, big);
  const source = await testing.startRegistry();
  const rows = [];
  try {
    for (const [name, layout] of Object.entries(layouts)) {
      const ref = `${source.host}/bench/${name}:1`;
      sh('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${ref}`]);
      const dir = (tool) => {
        const d = join(work, `run-${tool}`);
        rmSync(d, { recursive: true, force: true });
        mkdirSync(d, { recursive: true });
        return d;
      };
      const cs = (d) => `containers-storage:[vfs@${d}/root+${d}/run]bench/${name}:1`;
      rows.push(
        await runRow(`pull ${name}`, rounds, {
          ours: async () => ({ argv: ['node', BIN, '--root', dir('ours'), '--driver', 'vfs', '-q', 'pull', '--tls-verify=false', ref] }),
          'skopeo→containers-storage': async () => ({
            argv: ['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, cs(dir('cs'))],
          }),
          'skopeo→oci + our import': async () => {
            const d = dir('oci');
            const script = `skopeo copy --quiet --src-tls-verify=false docker://${ref} oci:${d}/l:1 && node ${BIN} --root ${d}/store --driver vfs -q import oci:${d}/l:1`;
            return { argv: ['sh', '-c', script] };
          },
        }),
      );
      // push: both from a store holding the image; each run to a registry of its own
      const ourStore = join(work, 'push-ours');
      rmSync(ourStore, { recursive: true, force: true });
      const top = sh('node', [BIN, '--root', ourStore, '--driver', 'vfs', '-q', 'import', `oci:${layout}:1`]).trim();
      const csStore = join(work, 'push-cs');
      rmSync(csStore, { recursive: true, force: true });
      sh('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, cs(csStore)]);
      const dest = [];
      const fresh = async () => {
        const r = await testing.startRegistry();
        dest.push(r);
        return r.host;
      };
      try {
        rows.push(
          await runRow(`push ${name}`, rounds, {
            ours: async () => ({
              argv: [
                'node',
                BIN,
                '--root',
                ourStore,
                '--driver',
                'vfs',
                '-q',
                'push',
                '--tls-verify=false',
                top,
                `${await fresh()}/p/${name}:1`,
              ],
            }),
            'skopeo from containers-storage': async () => ({
              argv: ['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', cs(csStore), `docker://${await fresh()}/p/${name}:1`],
            }),
          }),
        );
      } finally {
        for (const r of dest) await r.stop();
      }
    }
  } finally {
    await source.stop();
  }
  return rows;
}

async function runRow(name, rounds, tools) {
  const names = Object.keys(tools);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  process.stdout.write(`${name}: `);
  for (let r = -1; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + Math.max(r, 0)) % names.length]);
    for (const tool of order) {
      const { argv } = await tools[tool]();
      sh('sync', []);
      const res = timed(argv);
      if (r >= 0) samples[tool].push(res);
    }
    process.stdout.write(r < 0 ? 'w' : '.');
  }
  process.stdout.write('\n');
  const summary = Object.fromEntries(
    names.map((n) => [
      n,
      {
        wallMs: median(samples[n].map((s) => s.wallMs)),
        cpuMs: median(samples[n].map((s) => s.cpuMs)),
        rssKB: median(samples[n].map((s) => s.rssKB)),
      },
    ]),
  );
  for (const n of names) {
    const s = summary[n];
    console.log(
      `  ${n.padEnd(30)} wall ${(s.wallMs / 1000).toFixed(2)} s   cpu ${(s.cpuMs / 1000).toFixed(2)} s   rss ${(s.rssKB / 1024).toFixed(1)} MiB`,
    );
  }
  return { name, rounds, summary };
}

/** The markdown section of the report. */
export function imageReport(rows, rounds) {
  const lines = ['## Pull and push (@graphdriver/image vs skopeo)', ''];
  lines.push(
    `Local docker-registry on loopback (plain http), vfs everywhere, ${rounds} counted round(s) after a warm-up; medians. ` +
      'Goals: pull ≤ 0.7× skopeo into containers-storage, push ≤ 1.0× skopeo from containers-storage, peak RSS < 200 MB pulling the 1 GiB layer. ' +
      'CPU is user + system of the process and its children (pigz, igzip, the second process of skopeo→oci + import).',
    '',
  );
  lines.push(
    '| case | tool | wall s | CPU s | peak RSS MiB | wall ratio to skopeo | CPU ratio to skopeo |',
    '|---|---|---:|---:|---:|---:|---:|',
  );
  for (const r of rows) {
    const names = Object.keys(r.summary);
    const ref = r.summary[names.find((n) => n.startsWith('skopeo') && !n.includes('import'))];
    for (const n of names) {
      const s = r.summary[n];
      lines.push(
        `| ${r.name} | ${n} | ${(s.wallMs / 1000).toFixed(2)} | ${(s.cpuMs / 1000).toFixed(2)} | ${(s.rssKB / 1024).toFixed(1)} | ${(s.wallMs / ref.wallMs).toFixed(2)} | ${(s.cpuMs / ref.cpuMs).toFixed(2)} |`,
      );
    }
  }
  lines.push('');
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env;
  if (!existsSync(BIN)) throw new Error('packages/cli/dist is missing: run `pnpm build` first');
  const { referenceCorpus, missingReference } = await import('@graphdriver/core/testing');
  const corpus = referenceCorpus();
  if (!corpus) throw new Error(missingReference('corpus'));
  const rounds = Math.max(1, Number(env.BENCH_IMAGE_ROUNDS ?? 3));
  const work = mkdtempSync(join(dirname(resolve(corpus)), 'gd-bench-image-'));
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  const before = load();
  try {
    const rows = await imageBench({ rounds, big: (env.BENCH_IMAGE_BIG ?? '1') !== '0', corpus, work });
    const out = [
      `# Benchmark: pull and push`,
      '',
      `Generated by tools/bench/src/image.mjs on ${new Date().toISOString()}; load average before / after: ${before} / ${load()}.`,
      '',
      ...imageReport(rows, rounds),
    ].join('\n');
    const file = env.BENCH_RESULTS_IMAGE ?? join(repo, 'tools/bench/RESULTS-image.md');
    if (file) writeFileSync(file, out);
    console.log(`\n${out}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
