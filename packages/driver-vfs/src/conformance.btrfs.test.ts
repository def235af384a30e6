// The conformance suite on a loopback btrfs: copies are reflinks there.
import { afterAll, beforeAll } from 'vitest';
import { canMakeLoopback, describeConformance, makeLoopbackFs, type LoopbackFs, requireBackingSystem } from '@graphdriver/core/testing';
import { vfsTarget } from './test-support/targets.js';

let fs: LoopbackFs | undefined;
if (canMakeLoopback()) {
  beforeAll(async () => {
    fs = await makeLoopbackFs('btrfs', { size: 1 << 30 });
  });
  afterAll(async () => {
    await fs?.teardown();
  });
  describeConformance(vfsTarget('vfs on a loopback btrfs', () => fs!.mountpoint, { quota: 'unsupported' }));
} else {
  requireBackingSystem('vfs conformance on btrfs', 'loop devices need root');
}
