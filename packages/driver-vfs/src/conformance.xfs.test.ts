// The conformance suite on a loopback XFS: reflinks (mkfs.xfs makes reflink=1 filesystems),
// and no `size` without prjquota. The prjquota run is conformance.xfs-quota.vm.test.ts.
import { describeConformance, useLoopbackFs } from '@graphdriver/core/testing';
import { vfsTarget } from './test-support/targets.js';

const lb = useLoopbackFs('xfs', 'vfs conformance on xfs');
if (lb) describeConformance(vfsTarget('vfs on a loopback xfs (no prjquota)', lb.mountpoint, { quota: 'unsupported' }));
