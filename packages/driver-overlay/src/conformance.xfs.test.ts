// The conformance suite on overlay over a loopback xfs.
import { afterAll, beforeAll } from 'vitest';
import { canMakeLoopback, describeConformance, makeLoopbackFs, type LoopbackFs, requireBackingSystem } from '@graphdriver/core/testing';
import { overlayTarget } from './test-support/targets.js';

let fs: LoopbackFs | undefined;
if (canMakeLoopback()) {
  beforeAll(async () => {
    fs = await makeLoopbackFs('xfs', { size: 1 << 30 });
  });
  afterAll(async () => {
    await fs?.teardown();
  });
  describeConformance(overlayTarget('overlay2 on a loopback xfs', () => fs!.mountpoint));
} else {
  requireBackingSystem('overlay2 conformance on xfs', 'loop devices need root');
}
