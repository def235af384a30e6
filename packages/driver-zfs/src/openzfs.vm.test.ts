// Host side of the OpenZFS suite: this kernel cannot load modules, so OpenZFS runs in the qemu
// VM with Debian's kernel (tools/vm). tools/vm/openzfs/build builds (or finds in its cache) the
// modules for the VM's kernel and the userland; the VM runs src/*.vm.suite.ts with them.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectChildRunPassed, requireBackingSystem, runChildSuite } from '@graphdriver/core/testing';
import { missingVm, vmPackageSuites } from '../../../tools/vm/vm-prefix.js';

const repo = resolve(import.meta.dirname, '../../..');
const inVm = process.env.GRAPHDRIVER_IN_VM === '1';

describe.skipIf(inVm)('zfs driver on OpenZFS (in the VM)', () => {
  it('passes its OpenZFS suite inside the VM', async () => {
    if (!requireBackingSystem('the OpenZFS suites', missingVm())) return;
    // A fresh build (apt downloads, kernel headers, zfs configure + make) takes 5-20 min.
    const build = spawnSync(resolve(repo, 'tools/vm/openzfs/build'), [], { encoding: 'utf8', timeout: 3_600_000 });
    expect(build.status, `tools/vm/openzfs/build failed:\n${build.stderr}`).toBe(0);
    const kit = build.stdout.trim();

    const run = await runChildSuite(vmPackageSuites('driver-zfs', { timeoutSeconds: 3000, env: [`GRAPHDRIVER_OPENZFS=${kit}`] }));
    // conformance (18) and OpenZFS detection and dataset lookup (2)
    expectChildRunPassed(run, 20, { label: 'OpenZFS, in the VM' });
  }, 7_200_000);
});
