// The conformance suite on overlay over the host's own ext4 (/var/tmp).
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { describeConformance, requireBackingSystem } from '@graphdriver/core/testing';
import { overlayTarget } from './test-support/targets.js';

let base = '';
const root = process.getuid?.() === 0;
if (root) {
  beforeAll(async () => {
    base = await mkdtemp('/var/tmp/gd-overlay-conf-');
  });
  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });
  describeConformance(overlayTarget('overlay2 on the host filesystem (/var/tmp, ext4)', () => base));
} else {
  requireBackingSystem('overlay2 conformance on ext4', 'kernel overlay needs root');
}
