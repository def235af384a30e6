// Crash safety, concurrency, a full pool and hostile input, from core's shared campaigns,
// on zfs-fuse: one 512 MiB pool (4 GiB in the soak) with a parent dataset per home, and a small pool (128 MiB)
// per full-pool test.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { tool } from '@graphdriver/core';
import { describeExhaustion, describeRobustness, removeTree, type CrashTarget } from '@graphdriver/core/testing';
import { initZfs } from './init.js';
import { makeZfsFusePool, zfsFuseGate, type TestPool } from './test-support/zfs-fuse.js';

const gate = await zfsFuseGate('driver-zfs robustness');
const driverModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const zfs = tool('zfs', { timeout: 60_000 });

/** name -> origin of every dataset and snapshot under `fsname`. */
async function datasets(fsname: string): Promise<Array<{ name: string; type: string; origin: string }>> {
  const { stdout } = await zfs.run(['list', '-H', '-o', 'name,type,origin', '-t', 'all', '-r', fsname]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, type, origin] = l.split('\t');
      return { name, type, origin };
    });
}

/**
 * Exactly one dataset per listed layer under the home's parent dataset, and no snapshot
 * that is not the origin of a listed layer's clone (the driver defers their destruction).
 */
function noLeaks(fsnameOf: (home: string) => string) {
  return async (home: string, layers: readonly string[]): Promise<void> => {
    const fsname = fsnameOf(home);
    const all = await datasets(fsname);
    const fs = all
      .filter((d) => d.type === 'filesystem' && d.name !== fsname)
      .map((d) => d.name)
      .sort();
    const want = layers.map((id) => `${fsname}/${id}`).sort();
    if (fs.join('\n') !== want.join('\n')) throw new Error(`datasets under ${fsname}: [${fs.join(', ')}], layers: [${layers.join(', ')}]`);
    const origins = new Set(all.filter((d) => d.type === 'filesystem').map((d) => d.origin));
    const stray = all.filter((d) => d.type === 'snapshot' && !origins.has(d.name)).map((d) => d.name);
    if (stray.length) throw new Error(`snapshots that no layer is cloned from: ${stray.join(', ')}`);
  };
}

describe.skipIf(gate.skip)('zfs robustness on zfs-fuse', () => {
  if (gate.reason)
    it('has zfs-fuse (required in CI)', () => {
      throw new Error(`zfs-fuse is unavailable: ${gate.reason}`);
    });
  let pool: TestPool;
  const fsnames = new Map<string, string>();
  let n = 0;
  beforeAll(async () => {
    // the soak's heavy hostile cases (100 000 files, whiteout floods) need more than the
    // default 512 MiB once the crash campaign's layers are in the pool too (sparse: costs nothing)
    pool = await makeZfsFusePool(process.env.GRAPHDRIVER_SOAK === '1' ? { size: 4 * 2 ** 30 } : {});
  });
  afterAll(async () => {
    await pool?.teardown();
  });
  const target: CrashTarget = {
    name: 'zfs (zfs-fuse)',
    async makeHome() {
      const i = ++n;
      const fsname = `${pool.pool}/r${i}`;
      await pool.createDataset(fsname, { mountpoint: 'none' });
      const home = join(pool.workdir, `home-${i}`, 'zfs');
      await mkdir(home, { recursive: true });
      fsnames.set(home, fsname);
      return home;
    },
    options: (home) => [`zfs.fsname=${fsnames.get(home)}`],
    init: (home, options) => initZfs(home, options),
    driverModule,
    assertNoLeaks: noLeaks((home) => fsnames.get(home)!),
    async removeHome(home) {
      await removeTree(home);
      await pool.destroyDataset(fsnames.get(home)!);
      fsnames.delete(home);
    },
    // zfs-fuse is slow: smaller tars keep a campaign within minutes
    tarScale: 0.3,
  };
  describeRobustness(
    {
      ...target,
      // (not zfs.mountopt=,,,: as moby's, the driver takes any mount option string, and an empty list is one)
      badInitOptions: [['zfs.fsname=../etc'], ['zfs.fsname=-rf'], ['zfs.fsname=nosuchpool/x']],
    },
    { crash: { runs: 20 } },
  );
});

describe.skipIf(gate.skip)('zfs on a full pool', () => {
  const pools = new Map<string, TestPool>();
  describeExhaustion({
    name: 'zfs (128 MiB zfs-fuse pool)',
    async makeSmallHome() {
      const p = await makeZfsFusePool({ size: 128 << 20 });
      await p.createDataset(`${p.pool}/layers`, { mountpoint: 'none' });
      const home = join(p.workdir, 'home', 'zfs');
      await mkdir(home, { recursive: true });
      pools.set(home, p);
      return { home, capacity: 110 << 20 };
    },
    options: (home) => [`zfs.fsname=${pools.get(home)!.pool}/layers`],
    init: (home, options) => initZfs(home, options),
    async removeHome(home) {
      const p = pools.get(home);
      pools.delete(home);
      await removeTree(home);
      await p?.teardown();
    },
  });
});
