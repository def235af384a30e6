#!/usr/bin/env node
// `pnpm soak`: the long campaigns. For each driver, its robustness suite's crash campaign
// with SOAK_RUNS runs (default 300; the CI run does 30) and the heavy hostile cases, then the
// tar fuzzer for SOAK_FUZZ_SECONDS (default 600). devicemapper's suite runs inside the test VM
// (tools/vm/run: needs root and qemu), with SOAK_DM_RUNS runs (default SOAK_RUNS; some 30 s
// each under TCG). The suites write their figures as JSON (GRAPHDRIVER_SOAK_REPORTS); this
// script gathers them into tools/soak/RESULTS.md, newest run first, with the date and the
// machine. Exit status 1 when anything failed.
//
//   SOAK_RUNS=500 SOAK_SEED=7 SOAK_FUZZ_SECONDS=1800 pnpm soak
//   SOAK_DRIVERS=vfs,btrfs pnpm soak
//   SOAK_DRIVERS=devicemapper SOAK_DM_RUNS=300 SOAK_FUZZ_SECONDS=0 pnpm soak
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..');
const runs = Number(process.env.SOAK_RUNS ?? 300);
const seed = Number(process.env.SOAK_SEED ?? 1);
const fuzzSeconds = Number(process.env.SOAK_FUZZ_SECONDS ?? 600);
const fuzzSeed = Number(process.env.SOAK_FUZZ_SEED ?? seed);
const dmRuns = Number(process.env.SOAK_DM_RUNS ?? runs);
const only = process.env.SOAK_DRIVERS?.split(',').map((s) => s.trim());

/** The driver suites: where their robustness tests are. devicemapper runs in the VM (tools/vm). */
const suites = [
  { driver: 'vfs', file: 'packages/driver-vfs/src/robustness.test.ts' },
  { driver: 'btrfs', file: 'packages/driver-btrfs/src/robustness.test.ts' },
  { driver: 'zfs', file: 'packages/driver-zfs/src/robustness.test.ts' },
  {
    driver: 'devicemapper',
    vm: 'packages/driver-devmapper',
    file: 'src/robustness.vm.suite.ts',
    config: 'vitest.vm.config.ts',
    runs: dmRuns,
  },
].filter((s) => !only || only.includes(s.driver));

const reports = await mkdtemp(join(tmpdir(), 'gd-soak-'));
const env = {
  ...process.env,
  GRAPHDRIVER_SOAK: '1',
  GRAPHDRIVER_SOAK_REPORTS: reports,
  GRAPHDRIVER_CRASH_RUNS: String(runs),
  GRAPHDRIVER_CRASH_SEED: String(seed),
};

function run(cmd, args, extraEnv = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: repo, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (c) => {
      process.stdout.write(c);
      out = (out + c.toString()).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code) => resolve({ code, out, seconds: (Date.now() - started) / 1000 }));
  });
}

const vitest = join(repo, 'node_modules', 'vitest', 'vitest.mjs');
/** The tests a soak runs from each suite (vitest -t, matched against the full name). */
const selectedTests = /crash safety|hostile input/;
const canVm = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
const results = [];
for (const s of suites) {
  const n = s.runs ?? runs;
  console.log(`\n=== soak: ${s.driver}: crash campaign (${n} runs, seed ${seed}) and hostile input${s.vm ? ', in the VM' : ''} ===`);
  const json = join(reports, `vitest-${s.driver}.json`);
  const filter = ['-t', selectedTests.source, '--reporter=default', '--reporter=json'];
  let r;
  if (s.vm && !canVm) {
    console.log(`soak: ${s.driver} skipped: the VM needs root and qemu-system-x86_64 (bash tools/setup/install.sh)`);
    results.push({ ...s, exit: 0, seconds: 0, vmMissing: true, tests: { passed: 0, failed: 0, skipped: 0, failures: [] } });
    continue;
  } else if (s.vm) {
    // The guest's /tmp is its own: its reports go to a directory on the repo share, then here.
    const scratch = join(repo, s.vm, '.vm-scratch');
    await mkdir(scratch, { recursive: true });
    const shared = await mkdtemp(join(scratch, 'soak-reports-'));
    const pkg = join(repo, s.vm);
    // about 30 s per run in the emulated guest on 2 busy cores, then the hostile corpus
    const timeout = Math.max(3600, n * 120 + 3600);
    // The crash children load the built dist/ of core and the driver, hundreds of times over
    // hours, while others may rebuild them in this checkout: the guest (whose view of the repo
    // is cached loosely) would then see an index.js naming chunks that are gone. So the guest
    // runs on a private copy of those two directories, bind-mounted over them in the guest only.
    // (run's working directory in the guest is the repo root; $GD_DISTS is split on spaces)
    const snapshot =
      'set -e; for d in $GD_DISTS; do mkdir -p "/tmp/dist-copy/$d"; cp -a "$d/." "/tmp/dist-copy/$d/"; mount --bind "/tmp/dist-copy/$d" "$d"; done; exec "$@"';
    r = await run(
      join(repo, 'tools', 'vm', 'run'),
      [
        '--timeout',
        String(timeout),
        '--mem',
        '3072',
        '-e',
        `GD_DISTS=${['packages/core/dist', `${s.vm}/dist`].join(' ')}`,
        '--',
        'sh',
        '-c',
        snapshot,
        'sh',
        process.execPath,
        vitest,
        'run',
        '--root',
        pkg,
        '--config',
        join(pkg, s.config),
        s.file,
        ...filter,
        `--outputFile.json=${join(shared, 'vitest.json')}`,
      ],
      { GRAPHDRIVER_SOAK_REPORTS: shared, GRAPHDRIVER_CRASH_RUNS: String(n) },
    );
    // (copied: the repo and the temporary directory may be different filesystems)
    for (const name of await readdir(shared).catch(() => []))
      await copyFile(join(shared, name), name === 'vitest.json' ? json : join(reports, name));
    await rm(shared, { recursive: true, force: true });
  } else {
    r = await run(process.execPath, [vitest, 'run', s.file, ...filter, `--outputFile.json=${json}`]);
  }
  let tests = { passed: 0, failed: 0, skipped: 0, failures: [] };
  try {
    const j = JSON.parse(await readFile(json, 'utf8'));
    const all = j.testResults.flatMap((f) => f.assertionResults);
    // -t leaves the suite's other tests out, reported as skipped: only those it selected count
    const idle = all.filter((a) => ['pending', 'skipped', 'todo', 'disabled'].includes(a.status));
    const selected = idle.filter((a) => selectedTests.test(a.fullName ?? a.title));
    tests = {
      passed: j.numPassedTests,
      failed: j.numFailedTests,
      skipped: selected.length,
      notSelected: idle.length - selected.length,
      failures: all.filter((a) => a.status === 'failed').map((a) => `${a.title}: ${(a.failureMessages[0] ?? '').split('\n')[0]}`),
    };
  } catch {
    tests.failures.push(`no test report (exit ${r.code}): ${r.out.slice(-2000)}`);
    tests.failed = 1;
  }
  results.push({ ...s, exit: r.code, seconds: r.seconds, tests });
}

let fuzz;
if (fuzzSeconds > 0) {
  console.log(`\n=== soak: fuzzer (${fuzzSeconds} s, seed ${fuzzSeed}) ===`);
  const r = await run(process.execPath, [join(repo, 'tools', 'fuzz', 'fuzz.mjs')], {
    FUZZ_SECONDS: String(fuzzSeconds),
    FUZZ_SEED: String(fuzzSeed),
  });
  fuzz = { exit: r.code, report: JSON.parse(await readFile(join(reports, 'fuzz-long.json'), 'utf8').catch(() => 'null')) };
}

// ---- the report ----------------------------------------------------------------------------

const crash = {};
for (const name of await readdir(reports)) {
  if (name.startsWith('crash-')) {
    const r = JSON.parse(await readFile(join(reports, name), 'utf8'));
    crash[r.driver] = r;
  }
}
await rm(reports, { recursive: true, force: true });

const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
const cpu = cpus();
const machine = `${hostname()}: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
const lines = [];
lines.push(
  `## ${date}`,
  '',
  `Machine: ${machine}.`,
  `Crash campaigns: ${runs} runs per driver${suites.some((s) => s.vm) && dmRuns !== runs ? ` (devicemapper ${dmRuns})` : ''}, seed ${seed}. Fuzzer: ${fuzzSeconds} s, seed ${fuzzSeed}.`,
  '',
);
lines.push(
  '| driver | runs | faults injected (timer / fault point / in recovery) | plans run to the end | operations finished | invariants checked | failures | time |',
);
lines.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
for (const s of results) {
  const c = Object.values(crash).find((r) => r.driver.startsWith(s.driver));
  if (!c) {
    const why = s.vmMissing
      ? 'skipped: the VM needs root and qemu'
      : s.exit !== 0
        ? `did not finish (exit ${s.exit ?? 'killed'})`
        : 'skipped: backing system missing';
    lines.push(`| ${s.driver} | – | no campaign report: ${why} | | | | ${s.tests.failed} | ${s.seconds.toFixed(0)} s |`);
    continue;
  }
  const f = c.faultsByKind;
  lines.push(
    `| ${c.driver} | ${c.runs} | ${c.faultsInjected} (${f.timer} / ${f.point} / ${f.recovery}) | ${c.completedPlans} | ${c.operationsFinished} | ${c.invariantsChecked} | ${c.failures.length} | ${(c.durationMs / 1000).toFixed(0)} s |`,
  );
}
lines.push('');
lines.push(
  'Fault points hit (all drivers): ' +
    Object.entries(
      Object.values(crash).reduce((acc, c) => {
        for (const [k, v] of Object.entries(c.pointsHit)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
    )
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') +
    '.',
  '',
);
lines.push(
  '| driver | hostile-input and crash tests passed | failed | skipped | other tests of the suite (not run) |',
  '| --- | ---: | ---: | ---: | ---: |',
);
for (const s of results)
  lines.push(`| ${s.driver} | ${s.tests.passed} | ${s.tests.failed} | ${s.tests.skipped} | ${s.tests.notSelected ?? 0} |`);
lines.push('');
if (fuzz?.report) {
  const r = fuzz.report;
  lines.push(
    `Fuzzer: ${r.iterations} inputs from ${r.seeds} seeds in ${(r.durationMs / 1000).toFixed(0)} s; outcomes ${Object.entries(r.outcomes)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; peak RSS growth ${(r.peakRssGrowth / 2 ** 20).toFixed(0)} MiB; **${r.failures.length} failures**.`,
    '',
  );
} else if (fuzzSeconds > 0) lines.push(`Fuzzer: no report (exit ${fuzz?.exit}).`, '');
const failures = [
  ...results.flatMap((s) => s.tests.failures.map((f) => `${s.driver}: ${f}`)),
  ...Object.values(crash).flatMap((c) => c.failures.map((f) => `${c.driver}: ${f}`)),
  // the fuzzer's, grouped by what went wrong
  ...Object.entries(
    (fuzz?.report?.failures ?? []).reduce((acc, f) => {
      (acc[f.why] ??= []).push(f);
      return acc;
    }, {}),
  ).map(
    ([why, fs]) =>
      `fuzz: ${why}: ${fs.length} inputs, e.g. #${fs
        .slice(0, 3)
        .map((f) => f.iteration)
        .join(', #')}${fs[0].saved ? ` (${fs[0].saved})` : ''}`,
  ),
];
if (failures.length) lines.push('Failures:', '', ...failures.map((f) => `- ${f.replace(/\n/g, ' ')}`), '');
const dm = results.find((s) => s.vm);
if (dm && !dm.vmMissing) {
  lines.push(`devicemapper: in the test VM (tools/vm/run: qemu TCG, 2 vCPUs); the whole VM run took ${dm.seconds.toFixed(0)} s.`, '');
} else if (!dm) lines.push('devicemapper: not part of this run (SOAK_DRIVERS).', '');

const resultsPath = join(here, 'RESULTS.md');
const previous = await readFile(resultsPath, 'utf8').catch(() => '');
const head =
  "# Soak results\n\nWritten by `pnpm soak` (tools/soak/soak.mjs), newest first. Counts: runs (a child plan each),\nfaults injected (SIGKILLs that landed while a child ran: by timer, at a named fault point of\ncore's store, or while a second child recovered), invariants checked (each assertion of the\nparent's check after re-init), failures (broken invariants, with seed and run).\n\n";
const older = previous.startsWith('# Soak results') ? previous.slice(previous.indexOf('\n## ') + 1) : '';
await writeFile(resultsPath, head + lines.join('\n') + '\n' + (older ? '\n' + older : ''));
console.log(`\nsoak: wrote ${resultsPath}`);
const failed = failures.length > 0 || results.some((s) => s.exit !== 0) || (fuzz && fuzz.exit !== 0);
process.exit(failed ? 1 : 0);
