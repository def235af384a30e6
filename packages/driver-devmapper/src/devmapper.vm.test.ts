// Host side of the devicemapper suites: this kernel has no device-mapper, so they run in a
// qemu VM with Debian's kernel (tools/vm). On the host itself the driver must refuse cleanly.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, getDriver } from '@graphdriver/core';
import { expectChildRunPassed, requireBackingSystem, runChildSuite } from '@graphdriver/core/testing';
import { missingVm, vmPackageSuites } from '../../../tools/vm/vm-prefix.js';
import { name } from './index.js';

const repo = resolve(import.meta.dirname, '../../..');
const inVm = process.env.GRAPHDRIVER_IN_VM === '1';
// The kernel's own list, not /dev/mapper/control: dmsetup makes that node even on a kernel
// without device-mapper (it is there on this host), and the test would then be skipped.
const hasDm = spawnSync('grep', ['-qw', 'device-mapper', '/proc/misc']).status === 0;

const vmAvailable = () => requireBackingSystem('the devicemapper suites', missingVm());

function inGuest(args: string[], timeout: number) {
  const r = spawnSync(join(repo, 'tools/vm/run'), ['--timeout', String(timeout), '--mem', '2048', '--', ...args], {
    cwd: repo,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe.skipIf(inVm)('devicemapper on this host', () => {
  it.skipIf(hasDm)('reports ERR_PREREQUISITES where the kernel has no device-mapper', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gd-dm-'));
    try {
      await expect(getDriver(name, { root })).rejects.toMatchObject({ code: ErrorCode.Prerequisites });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('passes its suites inside the VM', async () => {
    if (!vmAvailable()) return;
    process.stdout.write('--- devicemapper suites in the VM ---\n');
    // conformance and pool (23 tests, ~4 min under TCG on a quiet 2-core host, 10 at load 8-9)
    // and robustness (63, ~6 min quiet, ~15 at load 8-9: crash campaign, concurrency, hostile
    // corpus, malformed arguments, a full layer filesystem, kills at precise steps)
    const run = await runChildSuite(vmPackageSuites('driver-devmapper', { timeoutSeconds: 3600 }));
    expectChildRunPassed(run, 100, { label: 'devicemapper, in the VM' });
  }, 4_200_000);

  it('recovers after the guest loses power in the middle of a create', async () => {
    if (!vmAvailable()) return;
    // The home lives on the repo share, so it outlives the guest.
    const scratch = join(repo, 'packages/driver-devmapper/.vm-scratch');
    await mkdir(scratch, { recursive: true });
    const home = await mkdtemp(join(scratch, 'crash-'));
    const script = 'packages/driver-devmapper/src/test-support/guest-crash.mjs';
    try {
      for (const seed of [37, 181]) {
        await rm(home, { recursive: true, force: true });
        await mkdir(home);
        const made = inGuest([process.execPath, script, 'make', home, String(seed)], 600);
        // power-off mid-create: the guest never reports an exit code
        expect(made.status, made.out.slice(-3000)).toBe(125);
        const checked = inGuest([process.execPath, script, 'check', home], 600);
        process.stdout.write(`--- after power loss (seed ${seed}) ---\n${checked.out.slice(-2000)}\n`);
        expect(checked.status, checked.out.slice(-3000)).toBe(0);
        const report = JSON.parse(checked.out.split('\n').find((l) => l.startsWith('{"done"')) ?? '{}');
        expect(report.done).toEqual(['layer0', 'layer1', 'layer2', 'layer3']);
        expect(report.problems).toEqual([]);
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 1_800_000);
});
