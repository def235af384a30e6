// The zfs driver on a real zfs-fuse pool: what the conformance suite does not see — dataset
// detection, the datasets and properties behind each layer, mount references, mount options,
// ids ZFS cannot name, and recovery of what a crash leaves behind.
import { spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, getDriver, tool, type Driver } from '@graphdriver/core';
import { HOME_PROPERTY } from './backend.js';
import { initZfs } from './init.js';
import { name } from './index.js';
import { mountAt, readMountInfo } from '@graphdriver/core/linux';
import { makeZfsFusePool, zfsFuseGate, type TestPool } from './test-support/zfs-fuse.js';

const gate = await zfsFuseGate('driver-zfs driver');
const zfs = tool('zfs', { timeout: 60_000 });

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

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe.skipIf(gate.skip)('zfs driver on zfs-fuse: datasets, mounts and recovery', () => {
  let pool: TestPool;
  let n = 0;
  const drivers: Driver[] = [];

  /** A fresh parent dataset and home (off ZFS) for one test. */
  async function fresh(): Promise<{ fsname: string; home: string }> {
    const i = ++n;
    const fsname = `${pool.pool}/d${i}`;
    await pool.createDataset(fsname, { mountpoint: 'none' });
    const home = join(pool.workdir, `home-${i}`, 'zfs');
    return { fsname, home };
  }
  async function init(home: string, options: string[]): Promise<Driver> {
    const d = await initZfs(home, options);
    drivers.push(d);
    return d;
  }

  beforeAll(async () => {
    pool = await makeZfsFusePool();
  });
  afterAll(async () => {
    for (const d of drivers) await d.cleanup().catch(() => {});
    await pool?.teardown();
  });

  if (gate.reason)
    it('has zfs-fuse (required in CI)', () => {
      throw new Error(`zfs-fuse is unavailable: ${gate.reason}`);
    });

  it('without zfs.fsname, uses the dataset holding home, found through mountinfo (statfs says FUSE)', async () => {
    const parent = `${pool.pool}/root`;
    const mnt = join(pool.workdir, 'root');
    await pool.createDataset(parent, { mountpoint: mnt });
    const home = join(mnt, 'graphdriver', 'zfs'); // does not exist yet: its ancestor decides
    const d = await init(home, []);

    const status = Object.fromEntries(await d.status());
    expect(status).toMatchObject({
      Zpool: pool.pool,
      'Zpool Health': 'ONLINE',
      'Parent Dataset': parent,
      'Parent Quota': 'no',
      Compression: 'off',
      Implementation: 'zfs-fuse 0.7',
    });
    expect(Number(status['Space Used By Parent'])).toBeGreaterThan(0);
    expect(Number(status['Space Available'])).toBeGreaterThan(100 << 20);

    await d.create('base', null);
    await d.create('child', 'base');
    expect(await d.getMetadata('child')).toEqual({ Mountpoint: join(home, 'graph', 'child'), Dataset: `${parent}/child` });
    expect(await children(parent)).toEqual([`${parent}/base`, `${parent}/child`]);

    const root = await d.get('child');
    expect(root).toBe(join(home, 'graph', 'child'));
    const m = mountAt(await readMountInfo(), root);
    expect(m).toMatchObject({ fstype: 'fuse.zfs', source: `${parent}/child` });
    await writeFile(join(root, 'f'), 'on zfs');
    await d.put('child');
    await d.remove('child');
    await d.remove('base');
    await d.cleanup();
  });

  it('is refused with ERR_PREREQUISITES off ZFS, and ERR_INVALID_OPTION for a missing dataset', async () => {
    const home = join(pool.workdir, 'on-ext4', 'zfs');
    await expect(initZfs(home, [])).rejects.toMatchObject({ code: ErrorCode.Prerequisites });
    await expect(initZfs(home, [`zfs.fsname=${pool.pool}/no-such`])).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
    await expect(initZfs(home, ['zfs.fsname=-o'])).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
    await expect(initZfs(home, ['zfs.bogus=1'])).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
  });

  it('registers as "zfs" with home <root>/zfs', async () => {
    const { fsname } = await fresh();
    const root = join(pool.workdir, 'registry-root');
    const d = await getDriver(name, { root, driverOptions: [`zfs.fsname=${fsname}`] });
    drivers.push(d);
    expect(d.name).toBe('zfs');
    await d.create('x', null);
    expect((await d.getMetadata('x')).Mountpoint).toBe(join(root, 'zfs', 'graph', 'x'));
    await d.cleanup();
  });

  it('a layer is <fsname>/<id>; a child is a clone of a deferred-destroyed snapshot that goes with the child', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('p', null);
    expect(await prop(`${fsname}/p`, 'mountpoint')).toBe('none');
    expect(await prop(`${fsname}/p`, 'canmount')).toBe('noauto');
    expect(await prop(`${fsname}/p`, HOME_PROPERTY)).toBe(home);

    await d.create('c', 'p');
    const origin = await prop(`${fsname}/c`, 'origin');
    expect(origin).toMatch(new RegExp(`^${fsname}/p@gd-[0-9a-f]{12}$`));
    expect(await prop(origin, 'defer_destroy')).toBe('on');
    // no temporary dataset is left
    expect(await children(fsname)).toEqual([`${fsname}/c`, `${fsname}/p`]);

    await d.remove('c');
    expect(await children(fsname, 'snapshot')).toEqual([]);
    await d.remove('p');
    expect(await children(fsname)).toEqual([]);
    await d.cleanup();
  });

  it('size sets the dataset quota, on base and child layers', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('q', null, { storageOpt: { size: '20M' } });
    await d.createReadWrite('q2', 'q', { storageOpt: { SIZE: '1G' } });
    await d.create('q3', 'q');
    expect(await prop(`${fsname}/q`, 'quota')).toBe(String(20 << 20));
    expect(await prop(`${fsname}/q2`, 'quota')).toBe(String(1 << 30));
    expect(await prop(`${fsname}/q3`, 'quota')).toBe('0');
    await expect(d.create('bad', null, { storageOpt: { size: 'lots' } })).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
    expect(await d.list()).toEqual(['q', 'q2', 'q3']);
    await d.cleanup();
  });

  it('get/put: one mount for many references, unmounted (mountpoint=none) at the last put', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('r', null);
    const p1 = await d.get('r');
    const p2 = await d.get('r');
    const p3 = await d.get('r');
    expect(new Set([p1, p2, p3]).size).toBe(1);
    expect((await readMountInfo()).filter((m) => m.mountpoint === p1)).toHaveLength(1);
    expect(await prop(`${fsname}/r`, 'mounted')).toBe('yes');

    await d.put('r');
    await d.put('r');
    expect(mountAt(await readMountInfo(), p1)?.source).toBe(`${fsname}/r`);
    await d.put('r');
    expect(mountAt(await readMountInfo(), p1)).toBeUndefined();
    expect(await exists(p1)).toBe(false);
    expect(await prop(`${fsname}/r`, 'mountpoint')).toBe('none');
    expect(await prop(`${fsname}/r`, 'mounted')).toBe('no');
    await d.put('r'); // unbalanced: tolerated, as Docker does
    await d.remove('r');
    await d.cleanup();
  });

  it('zfs.mountopt reaches the mount', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`, 'zfs.mountopt=ro']);
    await d.create('ro', null);
    const root = await d.get('ro');
    await expect(writeFile(join(root, 'f'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    await d.put('ro');
    await d.cleanup();
  });

  it('ids core accepts but ZFS cannot name are ERR_INVALID_ID, and reach no command line', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('ok', null);
    for (const id of ['-rf', '--help', 'a b', 'x%y', 'ünï', 'a@b', 'a#b', 'a'.repeat(250)]) {
      await expect(d.create(id, null), id).rejects.toMatchObject({ code: ErrorCode.InvalidId });
      await expect(d.createReadWrite(id, 'ok'), id).rejects.toMatchObject({ code: ErrorCode.InvalidId });
    }
    expect(await d.list()).toEqual(['ok']);
    expect(await children(fsname)).toEqual([`${fsname}/ok`]);
    await d.cleanup();
  });

  it('re-init sweeps what a crash left: stale mounts, temporary and orphan datasets, stray snapshots; others stay', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('a', null);
    await d.create('b', 'a');
    const bRoot = await d.get('b');
    await writeFile(join(bRoot, 'kept'), 'b content');
    await d.put('b');
    await d.cleanup();

    const mine = { mountpoint: 'none', canmount: 'noauto', [HOME_PROPERTY]: home };
    await pool.createDataset(`${fsname}/.tmp-0123456789abcdef`, mine); // cut short before the rename
    await pool.createDataset(`${fsname}/orphan`, mine); // renamed, but not in the index
    await pool.createDataset(`${fsname}/foreign`, { mountpoint: 'none' }); // not ours at all
    await pool.createDataset(`${fsname}/elsewhere`, { ...mine, [HOME_PROPERTY]: '/another/home' });
    await zfs.run(['snapshot', `${fsname}/a@gd-0123456789ab`]); // cut short before the clone
    await zfs.run(['snapshot', `${fsname}/a@users-own`]);
    // a layer record left 'creating', with its dataset already in place
    await pool.createDataset(`${fsname}/half`, mine);
    await writeFile(
      join(home, 'layers', 'half.json'),
      JSON.stringify({ id: 'half', parent: null, rw: false, state: 'creating', created: new Date().toISOString(), mounts: 0 }),
    );
    // a mount a dead process left at graph/a
    const stale = join(home, 'graph', 'a');
    await mkdir(stale, { recursive: true });
    await zfs.run(['set', `mountpoint=${stale}`, `${fsname}/a`]);
    await zfs.run(['mount', `${fsname}/a`]);
    expect(mountAt(await readMountInfo(), stale)?.source).toBe(`${fsname}/a`);

    const d2 = await init(home, [`zfs.fsname=${fsname}`]);
    expect(mountAt(await readMountInfo(), stale)).toBeUndefined();
    expect(await prop(`${fsname}/a`, 'mountpoint')).toBe('none');
    expect(await children(fsname)).toEqual([`${fsname}/a`, `${fsname}/b`, `${fsname}/elsewhere`, `${fsname}/foreign`]);
    const snaps = await children(fsname, 'snapshot');
    expect(snaps).toContain(`${fsname}/a@users-own`);
    expect(snaps).toContain(await prop(`${fsname}/b`, 'origin')); // still needed by b
    expect(snaps).not.toContain(`${fsname}/a@gd-0123456789ab`);
    expect(await d2.list()).toEqual(['a', 'b']);
    expect(await readFile(join(await d2.get('b'), 'kept'), 'utf8')).toBe('b content');
    await d2.put('b');
    await d2.cleanup();
  });

  it("check asks zfs whether each layer's dataset is there: one destroyed behind the store's back is missing data, repair drops it and its child", async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('gone', null);
    await d.create('gone-child', 'gone');
    await d.create('kept', null);
    expect(await d.check!()).toEqual([]);
    await zfs.run(['destroy', '-R', `${fsname}/gone`]); // the clone goes with it
    const problems = await d.check!();
    expect(problems.map((p) => [p.kind, p.id])).toEqual([
      ['missing-data', 'gone'],
      ['missing-data', 'gone-child'],
    ]);
    await d.repair!();
    expect(await d.list()).toEqual(['kept']);
    expect(await d.check!()).toEqual([]);
    // a dataset of the layer's name that another home made is not this layer's data
    await zfs.run(['set', `${HOME_PROPERTY}=/another/home`, `${fsname}/kept`]);
    expect((await d.check!()).map((p) => [p.kind, p.id])).toEqual([['missing-data', 'kept']]);
    await zfs.run(['set', `${HOME_PROPERTY}=${home}`, `${fsname}/kept`]);
    await d.cleanup();
  });

  it('remove of a layer someone else keeps busy fails with ERR_LAYER_BUSY and keeps the layer', async () => {
    const { fsname, home } = await fresh();
    const d = await init(home, [`zfs.fsname=${fsname}`]);
    await d.create('busy', null);
    // mounted behind the driver's back, and held open by a process sitting in it
    const elsewhere = join(pool.workdir, `busy-${n}`);
    await mkdir(elsewhere);
    await zfs.run(['set', `mountpoint=${elsewhere}`, `${fsname}/busy`]);
    await zfs.run(['mount', `${fsname}/busy`]);
    const sleeper = spawn('sleep', ['120'], { cwd: elsewhere, stdio: 'ignore' });
    try {
      await expect(d.remove('busy')).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
      expect(await children(fsname)).toEqual([`${fsname}/busy`]);
    } finally {
      sleeper.kill();
      await new Promise((r) => sleeper.once('exit', r));
    }
    await zfs.run(['set', 'mountpoint=none', `${fsname}/busy`]);
    await d.cleanup();
  });
});
