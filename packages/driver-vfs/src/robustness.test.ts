// Crash safety, concurrency, a full disk and hostile input, from core's shared campaigns,
// on vfs: over the host filesystem (ext4 under /var/tmp) and, for ENOSPC, a small loopback ext4.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import {
  canMakeLoopback,
  describeExhaustion,
  describeRobustness,
  requireBackingSystem,
  smallLoopbackHomes,
} from '@graphdriver/core/testing';
import { init } from './index.js';

const driverModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));

let base = '';
beforeAll(async () => {
  base = await mkdtemp('/var/tmp/gd-vfs-robust-');
});
/** GNU rm walks with openat: it deletes trees deeper than PATH_MAX, which fs.rm cannot. */
const rmrf = (path: string) => promisify(execFile)('rm', ['-rf', '--one-file-system', path]).then(() => {});

afterAll(async () => {
  if (base) await rmrf(base);
});

/** vfs keeps layers in home/dir/<id> and builds or deletes them under home/tmp. */
async function assertNoVfsLeaks(home: string, layers: readonly string[]): Promise<void> {
  const dirs = (await readdir(join(home, 'dir'))).sort();
  const want = [...layers].sort();
  if (dirs.join('\n') !== want.join('\n')) throw new Error(`home/dir holds [${dirs.join(', ')}], layers are [${want.join(', ')}]`);
  const tmp = await readdir(join(home, 'tmp'));
  if (tmp.length) throw new Error(`home/tmp is not empty after recovery: ${tmp.join(', ')}`);
}

describe('vfs robustness', () => {
  describeRobustness({
    name: 'vfs (ext4)',
    makeHome: () => mkdtemp(join(base, 'home-')),
    init: (home, options) => init(home, options),
    driverModule,
    assertNoLeaks: assertNoVfsLeaks,
    removeHome: rmrf,
    badInitOptions: [['vfs.bogus=1'], ['size=abc'], ['vfs.xfs_quota=maybe']],
    // (deep-10k-levels was a known issue until core's delete-tree.ts moved to GNU rm, which walks with openat)
  });
});

// ENOSPC on a small loopback ext4 (one per test, torn down with it)
if (requireBackingSystem('the full-disk tests', canMakeLoopback() ? null : 'not root, cannot make a loopback ext4')) {
  describe('vfs on a full disk', () => {
    describeExhaustion({
      name: 'vfs (96 MiB loopback ext4)',
      copyingCreates: true,
      ...smallLoopbackHomes('ext4', { size: 96 << 20, capacity: 90 << 20, dir: 'vfs' }),
      init: (home, options) => init(home, options),
    });
  });
}
