// The tar fuzzer (testing/fuzz.ts) for a bounded number of inputs with a fixed seed: every
// mutated archive is read and applied with a typed outcome, nothing outside the destination
// changes, nothing hangs, memory stays bounded. `pnpm fuzz` runs the same engine for longer.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { saveReport } from '../testing/crash.js';
import { FUZZ_ALLOWED_CODES, runFuzz } from '../testing/fuzz.js';
import { isGraphDriverError } from '../errors.js';
import { applyLayer } from './apply.js';

const crashersDir = fileURLToPath(new URL('../../../../tools/fuzz/crashers', import.meta.url));

describe('tar reader and applier fuzzing', () => {
  const iterations = Number(process.env.FUZZ_ITERATIONS) || 1500;
  const seed = Number(process.env.FUZZ_SEED) || 20240601;
  it(`${iterations} mutated archives (seed ${seed}) end in success or a typed refusal, harmlessly`, async () => {
    const report = await runFuzz({
      seed,
      iterations,
      seconds: 240,
      crashersDir: join(crashersDir, 'ci'),
      log: (l) => console.log(`[fuzz] ${l}`),
    });
    await saveReport('fuzz', 'ci', report);
    expect(report.failures.map((f) => `#${f.iteration} ${f.why} [${f.mutations.join('; ')}]${f.saved ? ` saved ${f.saved}` : ''}`)).toEqual(
      [],
    );
    expect(report.iterations).toBeGreaterThan(0);
    // the mutations reach both sides: some inputs apply, some are refused
    expect(report.outcomes.ok ?? 0).toBeGreaterThan(0);
    expect(report.outcomes.ERR_INVALID_ARCHIVE ?? 0).toBeGreaterThan(0);
  }, 300_000);
});

describe('saved crashers (tools/fuzz/crashers) stay fixed', () => {
  const saved = readdirSync(crashersDir).filter((n) => n.endsWith('.tar'));
  it.each(saved.length ? saved : ['(none saved)'])('%s applies or is refused with a typed archive error', async (name) => {
    if (!name.endsWith('.tar')) return;
    const dir = await mkdtemp(join(tmpdir(), 'gd-crasher-'));
    try {
      const outcome = await applyLayer(
        join(dir, 'dest'),
        (async function* () {
          yield readFileSync(join(crashersDir, name));
        })(),
      ).then(
        () => 'ok',
        (err: unknown) => (isGraphDriverError(err) ? err.code : `untyped: ${String(err)}`),
      );
      expect(['ok', ...FUZZ_ALLOWED_CODES]).toContain(outcome);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
