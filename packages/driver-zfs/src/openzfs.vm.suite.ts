// The zfs driver on real OpenZFS: the kernel module inside the test VM (started by
// openzfs.vm.test.ts on the host; see src/test-support/openzfs.ts). What only OpenZFS exercises:
// `zfs version` detection, `mountpoint=legacy` + `mount -t zfs`, `zfs list -Hp`, dataset
// detection through an fstype "zfs" mount; then core's full conformance suite, quota required,
// with the same target as conformance.test.ts (one parent dataset per home, as zfs.fsname).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tool } from '@graphdriver/core';
import { describeConformance, removeTree } from '@graphdriver/core/testing';
import { HOME_PROPERTY } from './backend.js';
import { initZfs } from './init.js';
import { classifyFlavour, detectFlavour, probeZfsVersion } from './flavour.js';
import { mountAt, readMountInfo } from '@graphdriver/core/linux';
import { makeOpenZfsPool, openZfsGate, openZfsKitInfo, useOpenZfs, type TestPool } from './test-support/openzfs.js';

const gate = openZfsGate('driver-zfs OpenZFS');
const zfs = tool('zfs', { timeout: 120_000 });

async function prop(dataset: string, property: string): Promise<string> {
  return (await zfs.run(['get', '-H', '-p', '-o', 'value', property, dataset])).stdout.trim();
}

async function children(fsname: string, type = 'filesystem'): Promise<string[]> {
  const depth = type === 'snapshot' ? '2' : '1';
  const { stdout } = await zfs.run(['list', '-H', '-o', 'name', '-t', type, '-d', depth, fsname]);
  return stdout
    .split('\n')
    .filter((n) => n && n !== fsname)
    .sort();
}

describe.skipIf(gate.skip)('zfs driver on OpenZFS', () => {
  let pool: TestPool;
  const fsnames = new Map<string, string>();
  let n = 0;

  beforeAll(async () => {
    await useOpenZfs();
    pool = await makeOpenZfsPool();
  });
  afterAll(async () => {
    await pool?.teardown();
  });

  if (gate.reason)
    it('has OpenZFS (required in CI)', () => {
      throw new Error(`OpenZFS is unavailable: ${gate.reason}`);
    });

  it('detects OpenZFS with `zfs version`: legacy mounts, parsable list and get', async () => {
    const probe = await probeZfsVersion();
    expect(probe.outcome).toBe('ok');
    const found = await detectFlavour();
    expect(found).toMatchObject({ kind: 'openzfs', listParsable: true, getParsable: true, legacyMount: true });
    expect(found).toEqual(classifyFlavour(probe, true));
    const version = (found as { version: string }).version;
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    const info = await openZfsKitInfo();
    // the userland of the kit, not the host's zfs-fuse
    if (info) expect(version).toBe(info.zfsutils_linux_version);
  });

  it('without zfs.fsname, uses the dataset holding home (mountinfo fstype zfs); layers are legacy mounts', async () => {
    const parent = `${pool.pool}/root`;
    const mnt = join(pool.workdir, 'root');
    await pool.createDataset(parent, { mountpoint: mnt }); // OpenZFS mounts it at once
    expect(mountAt(await readMountInfo(), mnt)).toMatchObject({ fstype: 'zfs', source: parent });
    const home = join(mnt, 'graphdriver', 'zfs'); // does not exist yet: its ancestor decides
    const d = await initZfs(home, []);
    try {
      const status = Object.fromEntries(await d.status());
      expect(status).toMatchObject({ Zpool: pool.pool, 'Zpool Health': 'ONLINE', 'Parent Dataset': parent, 'Parent Quota': 'no' });
      expect(status.Implementation).toMatch(/^OpenZFS \d+\.\d+\.\d+/);
      // exact bytes (zfs get -p), not the human form
      expect(status['Space Used By Parent']).toMatch(/^[1-9]\d*$/);
      expect(Number(status['Space Available'])).toBeGreaterThan(100 << 20);

      await d.create('base', null, { storageOpt: { size: '64M' } });
      await d.create('child', 'base');
      expect(await d.getMetadata('child')).toEqual({ Mountpoint: join(home, 'graph', 'child'), Dataset: `${parent}/child` });
      expect(await children(parent)).toEqual([`${parent}/base`, `${parent}/child`]);
      expect(await prop(`${parent}/base`, 'mountpoint')).toBe('legacy');
      expect(await prop(`${parent}/base`, 'quota')).toBe(String(64 << 20));
      expect(await prop(`${parent}/child`, 'mountpoint')).toBe('legacy');
      expect(await prop(`${parent}/child`, HOME_PROPERTY)).toBe(home);
      const origin = await prop(`${parent}/child`, 'origin');
      expect(origin).toMatch(new RegExp(`^${parent}/base@gd-[0-9a-f]{12}$`));
      expect(await prop(origin, 'defer_destroy')).toBe('on');

      const base = await d.get('base');
      await writeFile(join(base, 'f'), 'written in base');
      await d.put('base');
      const root = await d.get('child');
      expect(root).toBe(join(home, 'graph', 'child'));
      expect(mountAt(await readMountInfo(), root)).toMatchObject({ fstype: 'zfs', source: `${parent}/child` });
      // the clone was taken before base's write
      await expect(readFile(join(root, 'f'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
      await writeFile(join(root, 'g'), 'on OpenZFS');
      expect(await prop(`${parent}/child`, 'mounted')).toBe('yes');
      await d.put('child');
      expect(mountAt(await readMountInfo(), root)).toBeUndefined();
      expect(await prop(`${parent}/child`, 'mounted')).toBe('no');

      expect(await d.list()).toEqual(['base', 'child']);
      await d.remove('child');
      expect(await children(parent, 'snapshot')).toEqual([]); // the deferred snapshot went with it
      await d.remove('base');
      expect(await children(parent)).toEqual([]);
    } finally {
      await d.cleanup();
    }
  });

  describeConformance({
    name: 'zfs',
    quota: 'required',
    // the same 64-layer deep read as on the host: ~130 zfs commands and ~190 mounts, which
    // take longer than the default 300 s per test under TCG on a busy host
    timeout: 1_800_000,
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
