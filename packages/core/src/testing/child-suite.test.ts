import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectChildRunPassed, runChildSuite } from './child-suite.js';

const repoDir = resolve(import.meta.dirname, '../../../..');

describe('runChildSuite', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-child-suite-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('runs a suite in a child vitest and counts its tests from the JSON report', async () => {
    const run = await runChildSuite({
      repoDir,
      config: 'vitest.config.ts',
      suite: 'packages/core/src/ids.test.ts',
      prefix: [],
      reportPath: join(work, 'ids.json'),
    });
    expectChildRunPassed(run, 2);
    // the counts are checked, not just the exit code: more tests than ran, or a skip it did not make, fail
    expect(() => expectChildRunPassed(run, run.passed + 1)).toThrow();
    expect(() => expectChildRunPassed(run, 2, { skipped: 1 })).toThrow();
    expect(run.output).toMatch(/Tests\s+\d+ passed/);
  }, 120_000);

  it('runs once more when the runner died of a machine-level signal, then reports what it saw', async () => {
    // 139 = 128 + SIGSEGV, as tools/vm/run reports a guest runner that crashed
    const run = await runChildSuite({
      repoDir,
      config: 'vitest.config.ts',
      prefix: ['sh', '-c', 'exit 139', 'sh'],
      reportPath: join(work, 'crash.json'),
    });
    expect(run.exitCode).toBe(139);
    expect(run.output.match(/running once more/g)).toHaveLength(1);
    expect(() => expectChildRunPassed(run, 1)).toThrow();
  });
});
