// The conformance suite on XFS mounted with prjquota (quota 'required'), plus overlay2's
// project-quota specifics: src/xfs-quota.vm.suite.ts. This machine's kernel is built
// without CONFIG_XFS_QUOTA, so when a prjquota mount fails here the suite runs inside the
// test VM (tools/vm/run: Debian's kernel, this machine's userland), which has it.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { canMakeLoopback, makeLoopbackFs, requireBackingSystem } from '@graphdriver/core/testing';
import { packageDir, repoDir, runSuite, tail, workerStartTimedOut } from './test-support/child-vitest.js';

/** True when this kernel mounts XFS with prjquota (it refuses without CONFIG_XFS_QUOTA). */
async function hostHasXfsQuota(): Promise<boolean> {
  try {
    const fs = await makeLoopbackFs('xfs', { mountOptions: 'prjquota' });
    await fs.teardown();
    return true;
  } catch {
    return false;
  }
}

const inVm = process.env.GRAPHDRIVER_IN_VM === '1';

if (!canMakeLoopback()) {
  requireBackingSystem('overlay2 conformance on xfs with prjquota', 'loop devices need root');
} else if (inVm || (await hostHasXfsQuota())) {
  await import('./xfs-quota.vm.suite.js');
} else {
  console.warn('[driver-overlay tests] this kernel has no XFS quota support: the prjquota suite runs in the test VM');
  it('conformance on xfs with prjquota, inside the test VM', async () => {
    const attempt = () =>
      runSuite({
        // 3600 s: the first run here (130-layer chains, under TCG on a host at load ~21) was
        // killed at vfs's 1800 s
        prefix: [join(repoDir, 'tools/vm/run'), '--timeout', '3600', '--mem', '3072', '--'],
        suite: 'packages/driver-overlay/src/xfs-quota.vm.suite.ts',
        // threads: a forked worker, a whole new node under TCG, can miss vitest's fixed
        // 60 s start-up limit when the host is busy
        vitestArgs: ['--pool=threads'],
        // the repo is shared read-write with the guest; node_modules is not committed
        reportPath: join(packageDir, 'node_modules', '.overlay-test', `xfs-quota-${process.pid}.json`),
      });
    let run = await attempt();
    if (workerStartTimedOut(run)) {
      console.warn("[xfs prjquota, in the VM] vitest's worker did not start in time (busy host); trying once more");
      run = await attempt();
    }
    console.info(`[xfs prjquota, in the VM] ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
    const why = `${run.failures.join('\n')}\n--- VM output (tail):\n${tail(run.output)}`;
    expect(run.failed, why).toBe(0);
    expect(run.exitCode, why).toBe(0);
    expect(run.passed, why).toBeGreaterThanOrEqual(23); // the conformance table (18) and the 5 quota cases
  }, 7_300_000);
}
