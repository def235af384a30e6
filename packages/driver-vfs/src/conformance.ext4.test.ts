// The conformance suite on the host's own filesystem (ext4 here): plain copies, no reflinks,
// no project quotas.
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { describeConformance } from '@graphdriver/core/testing';
import { vfsTarget } from './test-support/targets.js';

let base = '';
beforeAll(async () => {
  base = await mkdtemp('/var/tmp/gd-vfs-conf-');
});
afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

describeConformance(vfsTarget('vfs on the host filesystem (/var/tmp)', () => base, { quota: 'unsupported' }));
