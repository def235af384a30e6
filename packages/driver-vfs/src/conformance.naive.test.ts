// The conformance suite over the public naiveDiffDriver (Docker's NaiveDiffDriver) wrapping
// a vfs store: its diff, changes and sizes come from comparing mounted trees, and its
// applyDiff is the store's own, so the `applying` state holds as for the driver itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { naiveDiffDriver } from '@graphdriver/core';
import { describeConformance } from '@graphdriver/core/testing';
import { init } from './index.js';
import { vfsTarget } from './test-support/targets.js';

let base = '';
beforeAll(async () => {
  base = await mkdtemp('/var/tmp/gd-vfs-naive-');
});
afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

describeConformance(
  vfsTarget('naiveDiffDriver over vfs (/var/tmp)', () => base, {
    init: async (home, options = []) => naiveDiffDriver(await init(home, options)),
  }),
);
