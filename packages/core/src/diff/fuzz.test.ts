// The tar fuzzer (testing/fuzz.ts) for a bounded number of inputs with a fixed seed: every
// mutated archive is read and applied with a typed outcome, nothing outside the destination
// changes, nothing hangs, memory stays bounded. `pnpm fuzz` runs the same engine for longer.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { saveReport } from '../testing/crash.js';
import { runFuzz } from '../testing/fuzz.js';

const crashersDir = fileURLToPath(new URL('../../../../tools/fuzz/crashers', import.meta.url));

describe('tar reader and applier fuzzing', () => {
  const iterations = Number(process.env.FUZZ_ITERATIONS) || 600;
  const seed = Number(process.env.FUZZ_SEED) || 20240601;
  it(`${iterations} mutated archives (seed ${seed}) end in success or a typed refusal, harmlessly`, async () => {
    const report = await runFuzz({ seed, iterations, seconds: 240, crashersDir: join(crashersDir, 'ci'), log: (l) => console.log(`[fuzz] ${l}`) });
    await saveReport('fuzz', 'ci', report);
    expect(report.failures.map((f) => `#${f.iteration} ${f.why} [${f.mutations.join('; ')}]${f.saved ? ` saved ${f.saved}` : ''}`)).toEqual([]);
    expect(report.iterations).toBeGreaterThan(0);
    // the mutations reach both sides: some inputs apply, some are refused
    expect(report.outcomes.ok ?? 0).toBeGreaterThan(0);
    expect(report.outcomes.ERR_INVALID_ARCHIVE ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
