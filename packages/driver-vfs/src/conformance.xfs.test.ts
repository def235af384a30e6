// The conformance suite on a loopback XFS: reflinks (mkfs.xfs makes reflink=1 filesystems),
// and no `size` without prjquota. The prjquota run is conformance.xfs-quota.vm.test.ts.
import { afterAll, beforeAll } from 'vitest';
import { canMakeLoopback, describeConformance, makeLoopbackFs, type LoopbackFs, requireBackingSystem } from '@graphdriver/core/testing';
import { vfsTarget } from './test-support/targets.js';

let fs: LoopbackFs | undefined;
if (canMakeLoopback()) {
  beforeAll(async () => {
    fs = await makeLoopbackFs('xfs', { size: 1 << 30 });
  });
  afterAll(async () => {
    await fs?.teardown();
  });
  describeConformance(vfsTarget('vfs on a loopback xfs (no prjquota)', () => fs!.mountpoint, { quota: 'unsupported' }));
} else {
  requireBackingSystem('vfs conformance on xfs', 'loop devices need root');
}
