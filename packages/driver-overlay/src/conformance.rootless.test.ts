// overlay2 as an unprivileged user (uid 65534), mounting through fuse-overlayfs: the
// conformance suite with rootless relaxations, core's robustness suites and the rootless
// specifics (src/rootless.suite.ts). As root, it runs that suite in a child vitest
// under setpriv; when the test run is itself unprivileged, the suite runs right here.
import { constants, statSync } from 'node:fs';
import { access, chmod } from 'node:fs/promises';
import { beforeAll, it } from 'vitest';
import { expectChildRunPassed, requireBackingSystem } from '@graphdriver/core/testing';
import { fuseOverlayfs, fusermount } from './overlay-mount.js';
import { runSuiteAs } from './test-support/child-vitest.js';

const missing: string[] = [];
if (!(await fuseOverlayfs.available())) missing.push('fuse-overlayfs (Debian package fuse-overlayfs)');
if (!(await fusermount.available(['-V']))) missing.push('fusermount3 (Debian package fuse3)');
if (
  !(await access('/dev/fuse').then(
    () => true,
    () => false,
  ))
)
  missing.push('/dev/fuse');

if (missing.length) {
  requireBackingSystem('overlay2 rootless through fuse-overlayfs', `missing ${missing.join(', ')}`);
} else if (process.getuid?.() !== 0) {
  await import('./rootless.suite.js');
} else {
  beforeAll(async () => {
    // A plain user must open /dev/fuse (libfuse does before it would ask fusermount3).
    // Debian's udev rules make it 0666; this machine has no udev, so the set-up does the same.
    if ((statSync('/dev/fuse').mode & 0o666) !== 0o666) {
      console.warn('[driver-overlay tests] /dev/fuse is not 0666 (no udev here): chmod 0666 /dev/fuse, as udev does');
      await chmod('/dev/fuse', 0o666);
    }
    await access('/dev/fuse', constants.R_OK | constants.W_OK);
  });

  it('conformance, robustness and fuse-overlayfs specifics as uid 65534 (setpriv, no capabilities)', async () => {
    const run = await runSuiteAs({
      workName: 'gd-overlay-rootless-',
      env: (work) => ({ GD_OVERLAY_SUITE_DIR: work, GD_OVERLAY_SUITE_CACHE: `${work}/.vite` }),
      forceBind: process.env.GD_OVERLAY_ROOTLESS_BIND === '1',
      suite: 'packages/driver-overlay/src/rootless.suite.ts',
    });
    expectChildRunPassed(run, 90, { label: 'rootless, uid 65534' });
  }, 1_800_000);
}
