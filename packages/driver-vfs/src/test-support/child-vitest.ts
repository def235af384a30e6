// Runs the out-of-process suites (src/*.suite.ts) in a child vitest, behind a
// prefix that changes where it runs: `setpriv ...` (another uid) or `tools/vm/run --`
// (the test VM). The child's JSON report says what passed; its output is kept for when
// something did not.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = fileURLToPath(new URL('../..', import.meta.url));
export const repoDir = join(packageDir, '..', '..');
/** vitest's entry, relative to the repo (so that it can be reached through a bind mount too). */
export const vitestBinRel = relative(repoDir, join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs'));

export interface ChildRun {
  exitCode: number | null;
  output: string;
  passed: number;
  failed: number;
  skipped: number;
  /** Titles of failed tests with their first failure message. */
  failures: string[];
}

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{ assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

/**
 * `prefix... node vitest.mjs run --config vitest.suites.config.mjs <suite>` from the repo
 * root. `reportPath` must be writable by the child and readable here.
 */
export async function runSuite(opts: {
  prefix: string[];
  suite: string;
  reportPath: string;
  env?: Record<string, string>;
  /** Where the child sees the repo (a bind mount of it), if not at repoDir. */
  repo?: string;
  /** More vitest options, e.g. ['--pool=threads']. */
  vitestArgs?: string[];
}): Promise<ChildRun> {
  const repo = opts.repo ?? repoDir;
  await mkdir(dirname(opts.reportPath), { recursive: true });
  await rm(opts.reportPath, { force: true });
  const argv = [
    ...opts.prefix,
    process.execPath,
    join(repo, vitestBinRel),
    'run',
    '--config',
    join(repo, 'packages', 'driver-vfs', 'vitest.suites.config.mjs'),
    '--configLoader',
    'runner',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${opts.reportPath}`,
    ...(opts.vitestArgs ?? []),
    opts.suite,
  ];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: repoDir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  let report: JsonReport | undefined;
  try {
    report = JSON.parse(await readFile(opts.reportPath, 'utf8')) as JsonReport;
  } catch {
    // no report: the run died early; the output says why
  }
  await rm(opts.reportPath, { force: true });
  const failures =
    report?.testResults.flatMap((f) =>
      f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${a.fullName}: ${(a.failureMessages[0] ?? '').split('\n')[0]}`),
    ) ?? [];
  return {
    exitCode,
    output,
    passed: report?.numPassedTests ?? 0,
    failed: report?.numFailedTests ?? 0,
    skipped: (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0),
    failures,
  };
}

/** True when the child vitest gave up before a test ran because its worker was slow to start. */
export function workerStartTimedOut(run: ChildRun): boolean {
  return (
    run.passed + run.failed === 0 &&
    /Failed to start \w+ worker|Timeout waiting for worker to respond|Timeout starting \w+ runner/.test(run.output)
  );
}

/** The tail of a child's output, for assertion messages. */
export const tail = (s: string, lines = 60) => s.split('\n').slice(-lines).join('\n');
