// The conformance suite on a loopback XFS mounted with prjquota, where `size` works, and the
// project-quota edges of overlay2 (Docker's overlay2.size and --storage-opt size): core's
// describeXfsQuota. Run by conformance.xfs-quota.vm.test.ts.
import { describeXfsQuota } from '@graphdriver/core/testing';
import { overlayTarget } from './test-support/targets.js';

describeXfsQuota({
  driver: 'overlay2',
  target: overlayTarget,
  sizeOption: 'overlay2.size',
  // sized layers on a parent: their limits hold for writes through the overlay
  stacked: true,
});
