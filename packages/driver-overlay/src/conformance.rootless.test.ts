// overlay2 as an unprivileged user (uid 65534), mounting through fuse-overlayfs: the
// conformance suite with rootless relaxations, core's robustness suites and the rootless
// specifics (src/rootless.suite.ts). As root, it runs that suite in a child vitest
// under setpriv; when the test run is itself unprivileged, the suite runs right here.
import { constants, statSync } from 'node:fs';
import { access, chmod, chown, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeTree, unprivilegedPrefix, requireBackingSystem } from '@graphdriver/core/testing';
import { fuseOverlayfs, fusermount } from './overlay-mount.js';
import { repoDir, runSuite, tail } from './test-support/child-vitest.js';

const NOBODY = 65534;

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
  let work = '';
  beforeAll(async () => {
    // A plain user must open /dev/fuse (libfuse does before it would ask fusermount3).
    // Debian's udev rules make it 0666; this machine has no udev, so the set-up does the same.
    if ((statSync('/dev/fuse').mode & 0o666) !== 0o666) {
      console.warn('[driver-overlay tests] /dev/fuse is not 0666 (no udev here): chmod 0666 /dev/fuse, as udev does');
      await chmod('/dev/fuse', 0o666);
    }
    await access('/dev/fuse', constants.R_OK | constants.W_OK);
    // /var/tmp, not /tmp: the same disk as the other ext4 runs, and world-writable.
    work = await mkdtemp('/var/tmp/gd-overlay-rootless-');
    await chown(work, NOBODY, NOBODY);
    await chmod(work, 0o700);
  });
  afterAll(async () => {
    if (work) await removeTree(work);
  });

  it(`conformance, robustness and fuse-overlayfs specifics as uid ${NOBODY} (setpriv, no capabilities)`, async () => {
    const env = { HOME: work, TMPDIR: work, GD_OVERLAY_SUITE_DIR: work, GD_OVERLAY_SUITE_CACHE: join(work, '.vite') };
    const { prefix, repo } = await unprivilegedPrefix({
      uid: NOBODY,
      repoDir,
      probe: 'packages/driver-overlay/vitest.suites.config.mjs',
      work,
      env,
      forceBind: process.env.GD_OVERLAY_ROOTLESS_BIND === '1',
    });
    const run = await runSuite({
      prefix,
      repo,
      suite: 'packages/driver-overlay/src/rootless.suite.ts',
      reportPath: join(work, 'report.json'),
    });
    console.info(`[rootless] uid ${NOBODY}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
    const why = `${run.failures.join('\n')}\n--- child output (tail):\n${tail(run.output)}`;
    expect(run.failed, why).toBe(0);
    expect(run.exitCode, why).toBe(0);
    expect(run.passed, why).toBeGreaterThanOrEqual(40);
  }, 1_800_000);
}
