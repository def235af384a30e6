// The conformance suite on a loopback XFS mounted with prjquota, where `size` works, and the
// project-quota edges of vfs (Docker's vfs size= and --storage-opt size): core's
// describeXfsQuota. Run by conformance.xfs-quota.vm.test.ts.
import { describeXfsQuota } from '@graphdriver/core/testing';
import { vfsTarget } from './test-support/targets.js';

describeXfsQuota({ driver: 'vfs', target: vfsTarget, sizeOption: 'size', stacked: false });
