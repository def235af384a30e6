// The conformance suite on XFS mounted with prjquota (quota 'required'), plus overlay2's
// project-quota specifics: src/xfs-quota.vm.suite.ts. This machine's kernel is built
// without CONFIG_XFS_QUOTA, so when a prjquota mount fails here the suite runs inside the
// test VM (tools/vm/run: Debian's kernel, this machine's userland), which has it.
import { join } from 'node:path';
import { it } from 'vitest';
import { canMakeLoopback, expectChildRunPassed, makeLoopbackFs, requireBackingSystem } from '@graphdriver/core/testing';
import { missingVm, vmPrefix } from '../../../tools/vm/vm-prefix.js';
import { packageDir, runSuite } from './test-support/child-vitest.js';

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
    if (!requireBackingSystem('overlay2 conformance on xfs with prjquota (in the VM)', missingVm())) return;
    const run = await runSuite({
      // 3600 s: the first run here (130-layer chains, under TCG on a host at load ~21) was
      // killed at vfs's 1800 s
      ...vmPrefix({ timeoutSeconds: 3600 }),
      suite: 'packages/driver-overlay/src/xfs-quota.vm.suite.ts',
      // threads: a forked worker, a whole new node under TCG, can miss vitest's fixed
      // 60 s start-up limit when the host is busy
      vitestArgs: ['--pool=threads'],
      // the repo is shared read-write with the guest; node_modules is not committed
      reportPath: join(packageDir, 'node_modules', '.overlay-test', `xfs-quota-${process.pid}.json`),
    });
    // the conformance table (18) and the 5 quota cases
    expectChildRunPassed(run, 23, { label: 'xfs prjquota, in the VM' });
  }, 7_300_000);
}
