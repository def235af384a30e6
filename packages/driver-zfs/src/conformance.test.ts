// The full conformance suite on a real ZFS: a zfs-fuse pool on a sparse file, one parent
// dataset per test home (given as zfs.fsname), quotas required.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeConformance, removeTree } from '@graphdriver/core/testing';
import { initZfs } from './init.js';
import { makeZfsFusePool, zfsFuseGate, type TestPool } from './test-support/zfs-fuse.js';

const gate = await zfsFuseGate('driver-zfs conformance');

describe.skipIf(gate.skip)('zfs driver on zfs-fuse', () => {
  let pool: TestPool;
  const fsnames = new Map<string, string>();
  let n = 0;

  beforeAll(async () => {
    pool = await makeZfsFusePool();
  });
  afterAll(async () => {
    await pool?.teardown();
  });

  if (gate.reason)
    it('has zfs-fuse (required in CI)', () => {
      throw new Error(`zfs-fuse is unavailable: ${gate.reason}`);
    });

  describeConformance({
    name: 'zfs',
    quota: 'required',
    async makeHome() {
      const i = ++n;
      const fsname = `${pool.pool}/c${i}`;
      await pool.createDataset(fsname, { mountpoint: 'none' });
      const home = join(pool.workdir, `home-${i}`, 'zfs');
      await mkdir(home, { recursive: true });
      fsnames.set(home, fsname);
      return home;
    },
    init(home, options = []) {
      return initZfs(home, [`zfs.fsname=${fsnames.get(home)}`, ...options]);
    },
    async removeHome(home) {
      await removeTree(home);
      await pool.destroyDataset(fsnames.get(home)!);
      fsnames.delete(home);
    },
  });
});
