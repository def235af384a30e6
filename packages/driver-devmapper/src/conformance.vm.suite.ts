// The full conformance suite on a real thin pool (inside the test VM).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { assertNothingMountedUnder, describeConformance } from '@graphdriver/core/testing';
import { devicePrefix } from './backend.js';
import { dmsetup } from './dmsetup.js';
import { init, name } from './index.js';

// Small sparse pools in the guest's tmpfs; 40M base so the 50M quota case can fill a layer.
export const testOptions = ['dm.loopdatasize=3G', 'dm.loopmetadatasize=64M', 'dm.basesize=40M', 'dm.min_free_space=1%'];

describeConformance({
  name,
  quota: 'required',
  // Emulated (TCG) guest: a thin snapshot, mount and unmount take seconds, not milliseconds.
  timeout: 1_200_000,
  async makeHome() {
    return mkdtemp(join(tmpdir(), 'gd-dm-'));
  },
  async init(home, options = []) {
    return init(home, [...testOptions, ...options]);
  },
  async assertNothingMounted(home) {
    await assertNothingMountedUnder(home);
    const prefix = await devicePrefix(home);
    expect((await dmsetup.list()).filter((n) => n.startsWith(prefix))).toEqual([]);
  },
});
