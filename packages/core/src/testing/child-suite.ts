// Runs vitest in another process, behind a prefix that changes where it runs: another uid
// (`unprivilegedPrefix`) or the test VM (`tools/vm/run --`, built by tools/vm/vm-prefix.ts).
// The child's JSON report says what passed; its output is kept (and echoed, for long runs)
// for when something did not. The one way the repo runs vitest elsewhere: rootless suites,
// XFS quota suites, the devicemapper and OpenZFS VM suites.
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { expect } from 'vitest';
import { tool } from '../exec.js';
import { removeTree } from './fixtures.js';

/** What a child suite did, from its JSON report (counts are 0 when it wrote none). */
export interface ChildRun {
  /** The child's exit status; null when a signal ended it. */
  exitCode: number | null;
  /** Its stdout and stderr, interleaved as they came, without terminal colours. */
  output: string;
  /** Tests that passed. */
  passed: number;
  /** Tests that failed. */
  failed: number;
  /** Tests skipped or left to do. */
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

/** How {@link runChildSuite} runs a suite: which, where, and under what wrapper. */
export interface ChildSuiteOptions {
  /** The repository root as this process sees it. */
  repoDir: string;
  /** The vitest config, relative to the repo (loaded with `--configLoader runner`: nothing is bundled into node_modules). */
  config: string;
  /** The suite file, relative to the repo; without it, every file the config includes runs. */
  suite?: string;
  /** vitest's `--root`, relative to the repo, when the config's `include` is relative to a package. */
  root?: string;
  /** Wrapper argv before `node vitest.mjs ...` (setpriv, tools/vm/run --). */
  prefix: string[];
  /** Where the child writes its JSON report: writable by it, readable here. */
  reportPath: string;
  /** Variables added to this process's environment for the child. */
  env?: Record<string, string>;
  /** Where the child sees the repo (a bind mount of it), if not at repoDir. */
  repo?: string;
  /** More vitest options, e.g. ['--pool=threads']. */
  vitestArgs?: string[];
  /** Copy the child's output to this process's stdout as it comes (for runs of minutes). */
  echo?: boolean;
  /** Kill the child after this many ms (a guard against a wedged wrapper; the run then fails). */
  timeout?: number;
}

/**
 * `prefix... node vitest.mjs run --config <config> [--root <root>] [<suite>]`, from the repo
 * root. When the child's test runner itself failed before or outside any test (it died of
 * SIGILL, SIGBUS or SIGSEGV, which an emulator can cause and our TypeScript cannot, or its
 * worker missed vitest's fixed start-up limit on a busy host), it says so loudly and runs
 * once more; a failing test, a timeout or a second runner failure is reported as it is.
 */
export async function runChildSuite(opts: ChildSuiteOptions): Promise<ChildRun> {
  const first = await runOnce(opts);
  const why = runnerFailure(first);
  if (!why) return first;
  const note = `\n*** [child suite] ${why} (the runner, not a test): running once more ***\n`;
  console.warn(note);
  const second = await runOnce(opts);
  return { ...second, output: `${first.output}${note}${second.output}` };
}

/**
 * Exit statuses of a test runner killed by SIGILL, SIGBUS or SIGSEGV (128 + signal, as a shell
 * or tools/vm/run reports them). qemu 7.2's TCG caused them (see tools/vm/build).
 */
const RUNNER_CRASHED = new Set([132, 135, 139]);
const CRASH_SIGNALS = new Set(['SIGILL', 'SIGBUS', 'SIGSEGV']);

function runnerFailure(run: ChildRun & { signal?: NodeJS.Signals | null }): string | null {
  if (run.exitCode !== null && RUNNER_CRASHED.has(run.exitCode)) return `vitest died of signal ${run.exitCode - 128}`;
  if (run.signal && CRASH_SIGNALS.has(run.signal)) return `vitest died of ${run.signal}`;
  if (workerStartTimedOut(run)) return "vitest's worker did not start in time (busy host)";
  return null;
}

async function runOnce(opts: ChildSuiteOptions): Promise<ChildRun & { signal: NodeJS.Signals | null }> {
  const repo = opts.repo ?? opts.repoDir;
  // relative to the repo, so that it can be reached through a bind mount too
  const vitestBin = relative(
    opts.repoDir,
    join(dirname(createRequire(join(opts.repoDir, 'package.json')).resolve('vitest/package.json')), 'vitest.mjs'),
  );
  await mkdir(dirname(opts.reportPath), { recursive: true });
  await rm(opts.reportPath, { force: true });
  const argv = [
    ...opts.prefix,
    process.execPath,
    join(repo, vitestBin),
    'run',
    ...(opts.root ? ['--root', join(repo, opts.root)] : []),
    '--config',
    join(repo, opts.config),
    '--configLoader',
    'runner',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${opts.reportPath}`,
    ...(opts.vitestArgs ?? []),
    ...(opts.suite ? [opts.suite] : []),
  ];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.repoDir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: opts.timeout,
  });
  let raw = '';
  const keep = (c: Buffer) => {
    raw += c.toString();
    if (opts.echo) process.stdout.write(c);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve([code, sig]));
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
    signal,
    // vitest colours even into a pipe on CI
    output: stripVTControlCharacters(raw),
    passed: report?.numPassedTests ?? 0,
    failed: report?.numFailedTests ?? 0,
    skipped: (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0),
    failures,
  };
}

/** What {@link expectChildRunPassed} also checks and how it labels its log line. */
export interface ChildRunExpectation {
  /** Names the run in the counts line it prints (default `child suite`). */
  label?: string;
  /** Exactly how many tests the suite skips by design (default 0). */
  skipped?: number;
}

/**
 * Asserts that a child run ended well: exit 0, nothing failed, exactly `expected.skipped`
 * skipped (none by default: a suite runs elsewhere because there it has what it needs), and at
 * least `atLeast` tests passed (which catches a suite that silently lost tests). Messages carry
 * the failures and the tail of the child's output. Prints the counts, so a log shows what ran.
 */
export function expectChildRunPassed(run: ChildRun, atLeast: number, expected: ChildRunExpectation = {}): void {
  console.info(`[${expected.label ?? 'child suite'}] ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
  const why = `${run.failures.join('\n')}\n--- output (tail):\n${tailOf(run.output)}`;
  expect(run.failed, why).toBe(0);
  expect(run.exitCode, why).toBe(0);
  expect(run.skipped, why).toBe(expected.skipped ?? 0);
  expect(run.passed, why).toBeGreaterThanOrEqual(atLeast);
}

/** True when the child vitest gave up before a test ran because its worker was slow to start. */
export function workerStartTimedOut(run: ChildRun): boolean {
  return (
    run.passed + run.failed === 0 &&
    /Failed to start \w+ worker|Timeout waiting for worker to respond|Timeout starting \w+ runner/.test(run.output)
  );
}

/** The tail of a child's output, for assertion messages. */
export const tailOf = (s: string, lines = 60) => s.split('\n').slice(-lines).join('\n');

/** What {@link unprivilegedPrefix} gives {@link runChildSuite}. */
export interface UnprivilegedPrefix {
  /** The argv to put before `node vitest.mjs`. */
  prefix: string[];
  /** Where the child sees the repo, when through a bind mount. */
  repo?: string;
}

/**
 * The prefix that runs a child suite as `uid` (setpriv: no capabilities, no groups, a reset
 * environment holding `env`, PATH and CI). When that uid cannot read `probe` (a file in the
 * repo; the checkout may sit below a directory it cannot enter, e.g. /root), the child sees
 * the repo through a bind mount at `<work>/repo` in a private mount namespace; `repo` says
 * where, for runChildSuite. `work` must exist and be the uid's.
 */
export async function unprivilegedPrefix(opts: {
  /** The uid (and gid) to run as. */
  uid: number;
  /** The repository root as this process sees it. */
  repoDir: string;
  /** A file in the repo, relative to it, that the child must read. */
  probe: string;
  /** A directory of the uid's, for the bind mount when one is needed. */
  work: string;
  /** The child's whole environment (PATH and CI are added). */
  env: Record<string, string>;
  /** Bind-mount the repo even when it is reachable. */
  forceBind?: boolean;
}): Promise<UnprivilegedPrefix> {
  const asUser = [
    'setpriv',
    `--reuid=${opts.uid}`,
    `--regid=${opts.uid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--reset-env',
    'env',
    ...Object.entries({ ...opts.env, PATH: process.env.PATH ?? '/usr/bin:/bin', CI: process.env.CI ?? '' }).map(([k, v]) => `${k}=${v}`),
  ];
  if (!opts.forceBind && (await reachableBy(asUser, join(opts.repoDir, opts.probe)))) return { prefix: asUser };
  const repo = join(opts.work, 'repo');
  await mkdir(repo, { recursive: true });
  console.info(`[child suite] the repo is seen through a bind mount at ${repo}`);
  return {
    repo,
    prefix: [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind -- "$1" "$2" && cd -- "$2" && shift 2 && exec "$@"',
      'sh',
      opts.repoDir,
      repo,
      ...asUser,
    ],
  };
}

/** True when the user `asUser` runs as can read `file`. */
async function reachableBy(asUser: string[], file: string): Promise<boolean> {
  try {
    await tool(asUser[0]).run([...asUser.slice(1), 'test', '-r', file]);
    return true;
  } catch {
    return false;
  }
}

/** How {@link runChildSuiteAs} runs a suite as another user. */
export interface ChildSuiteAsOptions extends Omit<ChildSuiteOptions, 'prefix' | 'repo' | 'reportPath' | 'env'> {
  /** The uid (and gid) to run as, e.g. 65534 (nobody). */
  uid: number;
  /** The start of its work directory's name under /var/tmp, e.g. `gd-vfs-rootless-`. */
  workName: string;
  /** The child's environment beyond HOME and TMPDIR (both its work directory), given that directory. */
  env?: (work: string) => Record<string, string>;
  /** Bind-mount the repo even when the uid can reach it (to test that path). */
  forceBind?: boolean;
}

/**
 * Runs a suite in a child vitest as `uid` with no capabilities ({@link unprivilegedPrefix}), in
 * a fresh work directory of its own under /var/tmp (mode 0700, removed afterwards) that holds
 * its HOME, TMPDIR and JSON report. `config` doubles as the file the uid must be able to read
 * to reach the repo without a bind mount. Must be called as root.
 */
export async function runChildSuiteAs(opts: ChildSuiteAsOptions): Promise<ChildRun> {
  const { uid, workName, env, forceBind, ...suite } = opts;
  // /var/tmp, not /tmp: a disk, not a tmpfs, and world-writable
  const work = await mkdtemp(join('/var/tmp', workName));
  try {
    await chown(work, uid, uid);
    await chmod(work, 0o700);
    const childEnv = { HOME: work, TMPDIR: work, ...env?.(work) };
    const { prefix, repo } = await unprivilegedPrefix({ uid, repoDir: opts.repoDir, probe: opts.config, work, env: childEnv, forceBind });
    return await runChildSuite({ ...suite, prefix, repo, reportPath: join(work, 'report.json') });
  } finally {
    await removeTree(work);
  }
}
