// What a host-side test needs to hand a vitest run to the test VM (tools/vm/run): whether this
// host can boot it, and the prefix for core/testing's runChildSuite. Shared by the drivers whose
// suites need a kernel this host lacks (devicemapper, OpenZFS, XFS project quotas).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

/**
 * Why this host cannot boot the test VM (it needs root and qemu), or null when it can. Hand it
 * to core/testing's `requireBackingSystem`, which skips loudly here and fails under CI.
 */
export function missingVm(): string | null {
  const ok = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
  return ok ? null : 'they need root and qemu-system-x86_64 (bash tools/setup/install.sh)';
}

/** How the guest runs: {@link vmPrefix}'s options. */
export interface VmPrefixOptions {
  /** tools/vm/run kills the guest after this long (exit 124). */
  timeoutSeconds: number;
  /** Guest memory; its /tmp is a tmpfs in it (default 3072). */
  memMb?: number;
  /** `NAME=VALUE` settings for the guest. */
  env?: string[];
}

/**
 * `prefix` and `timeout` for runChildSuite: `tools/vm/run --timeout … --mem … [-e …] --`. The
 * guest sees the repo read-write at the same path, so report paths in the repo work as they are;
 * `timeout` only guards a wedged qemu (the guest itself is killed at `timeoutSeconds`).
 */
export function vmPrefix(opts: VmPrefixOptions): { prefix: string[]; timeout: number } {
  return {
    prefix: [
      resolve(repo, 'tools/vm/run'),
      '--timeout',
      String(opts.timeoutSeconds),
      '--mem',
      String(opts.memMb ?? 3072),
      ...(opts.env ?? []).flatMap((e) => ['-e', e]),
      '--',
    ],
    timeout: (opts.timeoutSeconds + 300) * 1000,
  };
}

/**
 * runChildSuite's options for a package's whole `vitest.vm.config.ts` (its `include` relative
 * to the package) in the VM, echoing the guest's output as it comes (these runs take minutes).
 * The JSON report goes to the package's node_modules: on the repo share, never committed.
 */
export function vmPackageSuites(pkg: string, vm: VmPrefixOptions) {
  return {
    ...vmPrefix(vm),
    repoDir: repo,
    root: `packages/${pkg}`,
    config: `packages/${pkg}/vitest.vm.config.ts`,
    reportPath: resolve(repo, 'packages', pkg, 'node_modules/.vm-test', `report-${process.pid}.json`),
    echo: true,
  };
}
