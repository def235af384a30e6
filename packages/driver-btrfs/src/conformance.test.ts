// The shared driver conformance suite (Docker's graphtest and core's edges) on a loopback
// btrfs. Its diffs go through the native path wherever it applies; afterwards we check that
// the native path never failed, it only stepped aside where it is meant to.
import { afterAll, describe, expect } from 'vitest';
import { describeConformance } from '@graphdriver/core/testing';
import type { BtrfsBackend } from './backend.js';
import { openBtrfs } from './init.js';
import { btrfsAvailable, useLoopbackBtrfs } from './test-support/loopback-btrfs.js';

describe.runIf(btrfsAvailable)('btrfs', () => {
  const lb = useLoopbackBtrfs();
  const backends: BtrfsBackend[] = [];
  describeConformance({
    name: 'btrfs',
    makeHome: () => lb.makeHome(),
    init: async (home, options) => {
      const { driver, backend } = await openBtrfs(home, options ?? []);
      backends.push(backend);
      return driver;
    },
    quota: 'required',
  });

  afterAll(() => {
    const native = backends.reduce((n, b) => n + b.diffStats.native, 0);
    const reasons = backends.flatMap((b) => Object.keys(b.diffStats.reasons));
    console.info(`[btrfs conformance] native diffs: ${native}; fell back for: ${[...new Set(reasons)].join(' | ')}`);
    expect(native).toBeGreaterThan(0);
    for (const why of reasons) expect(why).toMatch(/^no parent/);
  });
});
