// The conformance suite as an unprivileged user (uid 65534), with rootless relaxations.
// As root, it runs src/rootless.suite.ts in a child vitest under setpriv; when the
// test run is itself unprivileged, the suite runs right here.
import { chmod, chown, mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeTree } from '@graphdriver/core/testing';
import { tool } from '@graphdriver/core';
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
    const asNobody = [
      'setpriv',
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--reset-env',
      'env',
      ...Object.entries({ ...env, PATH: process.env.PATH ?? '/usr/bin:/bin', CI: process.env.CI ?? '' }).map(([k, v]) => `${k}=${v}`),
    ];
    // The checkout may sit below a directory nobody cannot enter (e.g. /root): then the child
    // sees it through a bind mount in a private mount namespace, at a path it can reach.
    let prefix = asNobody;
    let repo: string | undefined;
    if (process.env.GD_VFS_ROOTLESS_BIND === '1' || !(await reachableBy(asNobody, repoDir))) {
      repo = join(work, 'repo');
      await mkdir(repo);
      prefix = [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        'mount --bind -- "$1" "$2" && cd -- "$2" && shift 2 && exec "$@"',
        'sh',
        repoDir,
        repo,
        ...asNobody,
      ];
      console.info(`[rootless] the repo is seen through a bind mount at ${repo}`);
    }
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

/** True when the user `asUser` runs as can read the vitest config inside `repo`. */
async function reachableBy(asUser: string[], repo: string): Promise<boolean> {
  const probe = tool(asUser[0]);
  try {
    await probe.run([...asUser.slice(1), 'test', '-r', join(repo, 'packages', 'driver-vfs', 'vitest.suites.config.mjs')]);
    return true;
  } catch {
    return false;
  }
}
