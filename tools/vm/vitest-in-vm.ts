// Runs a package's VM-only vitest config inside the test VM (tools/vm/run) and says what
// passed. Shared by the host-side tests that hand their suites to the VM (devicemapper,
// OpenZFS). The guest's output is echoed as it comes (these runs take minutes) and kept.
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { expect } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');

/**
 * Why this host cannot boot the test VM (it needs root and qemu), or null when it can. Hand it
 * to core/testing's `requireBackingSystem`, which skips loudly here and fails under CI.
 */
export function missingVm(): string | null {
  const ok = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
  return ok ? null : 'they need root and qemu-system-x86_64 (bash tools/setup/install.sh)';
}

export interface VmVitestRun {
  /** tools/vm/run's exit code: the guest command's, 124 on timeout, 125 if the guest died. */
  status: number | null;
  /** Everything the run printed, without terminal colours (vitest colours even into a pipe on CI). */
  output: string;
  passed: number;
  failed: number;
  skipped: number;
}

export interface VmVitestOptions {
  pkgDir: string;
  config: string;
  timeoutSeconds: number;
  memMb?: number;
  /** `NAME=VALUE` settings for the guest. */
  env?: string[];
}

/**
 * Exit statuses of a guest test runner killed by SIGILL, SIGBUS or SIGSEGV (128 + signal). Our
 * TypeScript cannot cause them; an emulator can (qemu 7.2's TCG did, see tools/vm/build).
 */
const RUNNER_CRASHED = new Set([132, 135, 139]);

/**
 * `node vitest run --root <pkgDir> --config <config>` in the VM. If the guest's test runner
 * itself dies of a machine-level signal, says so loudly and runs the suites once more: a
 * failing test, a timeout or a second crash is reported as it is.
 */
export async function vitestInVm(opts: VmVitestOptions): Promise<VmVitestRun> {
  const first = await runInVm(opts);
  if (first.status === null || !RUNNER_CRASHED.has(first.status)) return first;
  const note = `\n*** the guest's vitest died of signal ${first.status - 128} (the runner, not a test): running the suites once more ***\n`;
  console.warn(note);
  const second = await runInVm(opts);
  return { ...second, output: `${first.output}${note}${second.output}` };
}

/** The run ended well: exit 0, nothing failed or skipped, at least `atLeast` tests passed. */
export function expectVmRunPassed(run: VmVitestRun, atLeast: number): void {
  const why = run.output.slice(-4000);
  expect(run.status, why).toBe(0);
  expect(run.failed, why).toBe(0);
  expect(run.skipped, why).toBe(0);
  expect(run.passed, why).toBeGreaterThanOrEqual(atLeast);
}

function runInVm(opts: VmVitestOptions): Promise<VmVitestRun> {
  const vitest = resolve(repo, 'node_modules/vitest/vitest.mjs');
  const args = [
    '--timeout',
    String(opts.timeoutSeconds),
    '--mem',
    String(opts.memMb ?? 3072),
    ...(opts.env ?? []).flatMap((e) => ['-e', e]),
    '--',
    process.execPath,
    vitest,
    'run',
    '--root',
    opts.pkgDir,
    '--config',
    resolve(opts.pkgDir, opts.config),
  ];
  return new Promise((done, fail) => {
    const child = spawn(resolve(repo, 'tools/vm/run'), args, {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
      // the guest is killed at --timeout; this only guards a wedged qemu
      timeout: (opts.timeoutSeconds + 300) * 1000,
    });
    let raw = '';
    const keep = (b: Buffer) => {
      raw += b.toString();
      process.stdout.write(b);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('close', (status) => {
      const output = stripVTControlCharacters(raw);
      const summary = output.match(/^\s*Tests\s+(.*)$/m)?.[1] ?? '';
      const count = (what: string) => Number(summary.match(new RegExp(`(\\d+) ${what}`))?.[1] ?? 0);
      done({ status, output, passed: count('passed'), failed: count('failed'), skipped: count('skipped') + count('todo') });
    });
  });
}
