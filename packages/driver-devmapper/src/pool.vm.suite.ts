// devicemapper specifics on a real thin pool (inside the test VM): pool growth at re-init,
// deferred removal of a busy device, and that cleanup leaves no device, mount or loop behind.
import { open } from 'node:fs/promises';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tool, type Driver } from '@graphdriver/core';
import { devicePrefix } from './backend.js';
import { dmsetup } from './dmsetup.js';
import { init } from './index.js';
import { thinDeviceIdsOf } from './test-support/thin-dump-cli.mjs';
const thinDeviceIds = async (f: string): Promise<number[]> => thinDeviceIdsOf(f);

const small = ['dm.loopmetadatasize=64M', 'dm.basesize=40M', 'dm.min_free_space=1%'];
const homes: string[] = [];
const drivers: Driver[] = [];

async function newHome(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'gd-dmpool-'));
  homes.push(h);
  return h;
}
async function start(home: string, opts: string[]): Promise<Driver> {
  const d = await init(home, [...small, ...opts]);
  drivers.push(d);
  return d;
}
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.cleanup().catch(() => {});
  for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true });
});

function statusOf(status: Array<[string, string]>, key: string): string {
  return status.find(([k]) => k === key)?.[1] ?? '';
}

describe('devicemapper pool', () => {
  it('grows the pool when the loop data file is made larger at re-init', async () => {
    const home = await newHome();
    let d = await start(home, ['dm.loopdatasize=1G']);
    await d.create('a', null);
    const before = statusOf(await d.status(), 'Data Space Total');
    await d.cleanup();
    d = await start(home, ['dm.loopdatasize=2G']);
    expect((await stat(join(home, 'devicemapper', 'data'))).size).toBe(2 * 2 ** 30);
    const after = statusOf(await d.status(), 'Data Space Total');
    expect(before).toMatch(/^1\.07\dGB$/);
    expect(after).toMatch(/^2\.14\dGB$/);
    expect(await d.exists('a')).toBe(true); // and the layers survived
  });

  it("check asks whether each layer's thin device is in the metadata: one deleted behind the store's back is missing data, repair drops it", async () => {
    const home = await newHome();
    const d = await start(home, ['dm.loopdatasize=1G']);
    await d.create('gone', null);
    await d.create('gone-child', 'gone');
    await d.create('kept', null);
    expect(await d.check!()).toEqual([]);
    // the thin device deleted from the pool and from the driver's metadata, as a careless admin would
    const rec = JSON.parse(await readFile(join(home, 'metadata', 'devices', 'gone.json'), 'utf8')) as { deviceId: number };
    const pool = statusOf(await d.status(), 'Pool Name');
    await tool('dmsetup').run(['message', `/dev/mapper/${pool}`, '0', `delete ${rec.deviceId}`]);
    await rm(join(home, 'metadata', 'devices', 'gone.json'));
    expect((await d.check!()).map((p) => [p.kind, p.id])).toEqual([['missing-data', 'gone']]);
    await d.repair!();
    expect(await d.list()).toEqual(['kept']);
    expect(await d.check!()).toEqual([]);
  });

  it('reports Docker status keys and per-layer metadata', async () => {
    const home = await newHome();
    const d = await start(home, ['dm.loopdatasize=1G']);
    await d.create('l1', null);
    const s = Object.fromEntries(await d.status());
    for (const k of [
      'Pool Name',
      'Pool Blocksize',
      'Base Device Size',
      'Backing Filesystem',
      'Data file',
      'Metadata file',
      'Data loop file',
      'Metadata loop file',
      'Data Space Used',
      'Data Space Total',
      'Data Space Available',
      'Metadata Space Used',
      'Metadata Space Total',
      'Metadata Space Available',
      'Thin Pool Minimum Free Space',
      'Deferred Removal Enabled',
      'Deferred Deletion Enabled',
      'Deferred Deleted Device Count',
      'Library Version',
    ]) {
      expect(s[k], k).toBeTruthy();
    }
    expect(s['Base Device Size']).toBe('41.94MB');
    expect(s['Backing Filesystem']).toBe('ext4');
    const m = await d.getMetadata('l1');
    expect(Number(m.DeviceId)).toBeGreaterThan(0);
    expect(m.DeviceSize).toBe(String(40 * 2 ** 20));
    expect(m.DeviceName).toBe(`${await devicePrefix(home)}-l1`);
  });

  it('grows a layer beyond the base size with the size storage option', async () => {
    const home = await newHome();
    const d = await start(home, ['dm.loopdatasize=1G']);
    await d.createReadWrite('big', null, { storageOpt: { size: '120M' } });
    const dir = await d.get('big');
    const { stdout } = await tool('df').run(['-B1', '--output=size', dir]);
    expect(Number(stdout.trim().split('\n')[1])).toBeGreaterThan(100 * 2 ** 20);
    await d.put('big');
    await expect(d.createReadWrite('tiny', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  it('with deferred removal, a busy device goes away at its last close', async () => {
    const home = await newHome();
    const d = await start(home, ['dm.loopdatasize=1G', 'dm.use_deferred_removal=true', 'dm.use_deferred_deletion=true']);
    await d.create('busy', null);
    await d.get('busy');
    const name = `${await devicePrefix(home)}-busy`;
    // hold the block device open, as a process outside the driver would
    const fh = await open(`/dev/mapper/${name}`, 'r');
    try {
      await d.put('busy'); // unmounts; the device is still open, so its removal is deferred
      const info = await dmsetup.info(name);
      expect(info.exists).toBe(true);
      expect(info.deferredRemove).toBe(true);
      await d.remove('busy'); // deletion deferred too
      expect(Object.fromEntries(await d.status())['Deferred Deleted Device Count']).toBe('1');
    } finally {
      await fh.close();
    }
    expect((await dmsetup.info(name)).exists).toBe(false);
    await d.cleanup(); // retries deferred deletions
    const again = await start(home, ['dm.loopdatasize=1G', 'dm.use_deferred_removal=true', 'dm.use_deferred_deletion=true']);
    expect(Object.fromEntries(await again.status())['Deferred Deleted Device Count']).toBe('0');
  });

  it('cleanup leaves no device, mount or loop device, and the pool holds exactly the live layers', async () => {
    const home = await newHome();
    const d = await start(home, ['dm.loopdatasize=1G']);
    await d.create('p', null);
    await d.create('c', 'p');
    await d.createReadWrite('rw', 'c');
    await d.get('rw');
    await d.remove('c').catch(() => {}); // refused: it has a child
    await d.cleanup();
    const prefix = await devicePrefix(home);
    expect((await dmsetup.list()).filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(home);
    const { stdout } = await tool('losetup').run(['-j', join(home, 'devicemapper', 'data')]);
    expect(stdout.trim()).toBe('');
    // base + p + c + rw, nothing else in the pool's own metadata
    expect((await thinDeviceIds(join(home, 'devicemapper', 'metadata'))).length).toBe(4);
    const d2 = await start(home, ['dm.loopdatasize=1G']);
    for (const id of ['rw', 'c', 'p']) await d2.remove(id);
    await d2.cleanup();
    expect((await thinDeviceIds(join(home, 'devicemapper', 'metadata'))).length).toBe(1);
    await writeFile(join(home, 'done'), '');
  });
});
