// The conformance suite as an unprivileged user (uid 65534), with rootless relaxations.
// As root, it runs src/rootless.suite.ts in a child vitest under setpriv; when the
// test run is itself unprivileged, the suite runs right here.
import { it } from 'vitest';
import { expectChildRunPassed } from '@graphdriver/core/testing';
import { runSuiteAs } from './test-support/child-vitest.js';

if (process.getuid?.() !== 0) {
  await import('./rootless.suite.js');
} else {
  it('conformance as uid 65534 (setpriv, no capabilities)', async () => {
    const run = await runSuiteAs({
      workName: 'gd-vfs-rootless-',
      env: (work) => ({ GD_VFS_SUITE_DIR: work, GD_VFS_SUITE_CACHE: `${work}/.vite` }),
      forceBind: process.env.GD_VFS_ROOTLESS_BIND === '1',
      suite: 'packages/driver-vfs/src/rootless.suite.ts',
    });
    expectChildRunPassed(run, 22, { label: 'rootless, uid 65534' });
  }, 900_000);
}
