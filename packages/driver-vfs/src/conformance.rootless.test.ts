// The conformance suite as an unprivileged user (uid 65534), with rootless relaxations.
// As root, it runs src/rootless.suite.ts in a child vitest under setpriv; when the
// test run is itself unprivileged, the suite runs right here.
import { chmod, chown, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeTree, unprivilegedPrefix } from '@graphdriver/core/testing';
import { repoDir, runSuite, tail } from './test-support/child-vitest.js';

const NOBODY = 65534;

if (process.getuid?.() !== 0) {
  await import('./rootless.suite.js');
} else {
  let work = '';
  beforeAll(async () => {
    // /var/tmp, not /tmp: the same disk as the other ext4 runs, and world-writable.
    work = await mkdtemp('/var/tmp/gd-vfs-rootless-');
    await chown(work, NOBODY, NOBODY);
    await chmod(work, 0o700);
  });
  afterAll(async () => {
    if (work) await removeTree(work);
  });

  it(`conformance as uid ${NOBODY} (setpriv, no capabilities)`, async () => {
    const env = { HOME: work, TMPDIR: work, GD_VFS_SUITE_DIR: work, GD_VFS_SUITE_CACHE: join(work, '.vite') };
    const { prefix, repo } = await unprivilegedPrefix({
      uid: NOBODY,
      repoDir,
      probe: 'packages/driver-vfs/vitest.suites.config.mjs',
      work,
      env,
      forceBind: process.env.GD_VFS_ROOTLESS_BIND === '1',
    });
    const run = await runSuite({
      prefix,
      repo,
      suite: 'packages/driver-vfs/src/rootless.suite.ts',
      reportPath: join(work, 'report.json'),
    });
    console.info(`[rootless] uid ${NOBODY}: ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
    const why = `${run.failures.join('\n')}\n--- child output (tail):\n${tail(run.output)}`;
    expect(run.failed, why).toBe(0);
    expect(run.exitCode, why).toBe(0);
    expect(run.passed, why).toBeGreaterThanOrEqual(22);
  }, 900_000);
}
