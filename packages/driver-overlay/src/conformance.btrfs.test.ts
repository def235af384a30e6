// The conformance suite on overlay over a loopback btrfs.
import { afterAll, beforeAll } from 'vitest';
import { canMakeLoopback, describeConformance, makeLoopbackFs, type LoopbackFs, requireBackingSystem } from '@graphdriver/core/testing';
import { overlayTarget } from './test-support/targets.js';

let fs: LoopbackFs | undefined;
if (canMakeLoopback()) {
  beforeAll(async () => {
    fs = await makeLoopbackFs('btrfs', { size: 1 << 30 });
  });
  afterAll(async () => {
    await fs?.teardown();
  });
  describeConformance(overlayTarget('overlay2 on a loopback btrfs', () => fs!.mountpoint));
} else {
  requireBackingSystem('overlay2 conformance on btrfs', 'loop devices need root');
}
