#!/usr/bin/env node
// `pnpm fuzz`: the tar reader and applier fuzzer (@graphdriver/core/fuzz) for FUZZ_SECONDS seconds (default 300) from FUZZ_SEED (default: the time, printed so
// a run can be repeated). Failing inputs are saved in tools/fuzz/crashers/ with a note of the
// seed, iteration and mutations; the exit status is 1 when there were any. With
// GRAPHDRIVER_SOAK_REPORTS set, the report is also written there as JSON (for tools/soak).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const { runFuzz } = await import('@graphdriver/core/fuzz').catch((err) => {
  console.error(`fuzz: cannot load core's built fuzzer (run \`pnpm build\` first): ${err.message}`);
  process.exit(2);
});

const seconds = Number(process.env.FUZZ_SECONDS ?? 300);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const iterations = process.env.FUZZ_ITERATIONS ? Number(process.env.FUZZ_ITERATIONS) : undefined;
console.log(`fuzz: seed ${seed}, ${seconds} s${iterations ? `, at most ${iterations} inputs` : ''} (repeat with FUZZ_SEED=${seed})`);

const report = await runFuzz({
  seed,
  seconds,
  iterations,
  crashersDir: join(here, 'crashers'),
  log: (line) => console.log(`fuzz: ${line}`),
});

if (process.env.GRAPHDRIVER_SOAK_REPORTS) {
  await mkdir(process.env.GRAPHDRIVER_SOAK_REPORTS, { recursive: true });
  await writeFile(join(process.env.GRAPHDRIVER_SOAK_REPORTS, 'fuzz-long.json'), JSON.stringify(report, null, 2));
}
for (const f of report.failures) console.log(`fuzz: FAILURE #${f.iteration}: ${f.why}${f.saved ? ` (saved ${f.saved})` : ''}`);
console.log(
  `fuzz: ${report.iterations} inputs, peak RSS growth ${(report.peakRssGrowth / 2 ** 20).toFixed(0)} MiB, ${report.failures.length} failures`,
);
process.exit(report.failures.length ? 1 : 0);
