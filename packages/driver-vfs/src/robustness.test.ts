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
  describeConcurrency,
  describeCrashSafety,
  describeExhaustion,
  describeHostileInput,
  describeMalformedArguments,
  makeLoopbackFs,
  type CrashTarget,
  type LoopbackFs,
  requireBackingSystem,
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

const crashTarget: CrashTarget = {
  name: 'vfs (ext4)',
  makeHome: () => mkdtemp(join(base, 'home-')),
  init: (home, options) => init(home, options),
  driverModule,
  assertNoLeaks: assertNoVfsLeaks,
  removeHome: rmrf,
};

describe('vfs robustness', () => {
  describeCrashSafety(crashTarget);
  describeConcurrency(crashTarget);
  describeHostileInput({
    ...crashTarget,
    badInitOptions: [['vfs.bogus=1'], ['size=abc'], ['vfs.xfs_quota=maybe']],
    // (deep-10k-levels was a known issue until core's delete-tree.ts moved to GNU rm, which walks with openat)
  });
  describeMalformedArguments(crashTarget);
});

// ENOSPC on a small loopback ext4 (one per test, torn down with it)
const loopbacks = new Map<string, LoopbackFs>();
if (!canMakeLoopback()) requireBackingSystem('the full-disk tests', 'not root, cannot make a loopback ext4');
describe.runIf(canMakeLoopback())('vfs on a full disk', () => {
  describeExhaustion({
    name: 'vfs (96 MiB loopback ext4)',
    copyingCreates: true,
    async makeSmallHome() {
      const lb = await makeLoopbackFs('ext4', { size: 96 << 20 });
      const home = join(lb.mountpoint, 'vfs');
      loopbacks.set(home, lb);
      return { home, capacity: 90 << 20 };
    },
    init: (home, options) => init(home, options),
    async removeHome(home) {
      await loopbacks.get(home)?.teardown();
      loopbacks.delete(home);
    },
  });
});
