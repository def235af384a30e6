// The btrfs-progs wrapper: its parsers on recorded output, and each call on a loopback btrfs.
import { link, lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ToolError } from '@graphdriver/core';
import {
  createBtrfs,
  parseFilesystemShow,
  parseFilesystemUsage,
  parseQgroupShow,
  parseSubvolumeList,
  parseSubvolumeShow,
} from './btrfs.js';
import { btrfsAvailable, useLoopbackBtrfs } from './test-support/loopback-btrfs.js';

describe('btrfs-progs output parsers', () => {
  it('subvolume show', () => {
    const info = parseSubvolumeShow(
      [
        'home/b',
        '\tName: \t\t\tb',
        '\tUUID: \t\t\tcbcb980f-dea4-6642-b7b5-7324b7906a4f',
        '\tParent UUID: \t\ta4957f2f-7211-934e-a0e1-83a4ae0452bf',
        '\tReceived UUID: \t\t-',
        '\tSubvolume ID: \t\t257',
        '\tGeneration: \t\t7',
        '\tFlags: \t\t\treadonly',
        '\tSnapshot(s):',
        '',
      ].join('\n'),
    );
    expect(info).toEqual({
      path: 'home/b',
      name: 'b',
      uuid: 'cbcb980f-dea4-6642-b7b5-7324b7906a4f',
      parentUuid: 'a4957f2f-7211-934e-a0e1-83a4ae0452bf',
      receivedUuid: null,
      id: 257,
      generation: 7,
      readonly: true,
    });
  });

  it('subvolume list, qgroup show, filesystem show and usage', () => {
    expect(parseSubvolumeList('ID 258 gen 8 top level 256 path home/a/with space\n')).toEqual([
      { id: 258, generation: 8, topLevel: 256, path: 'home/a/with space' },
    ]);
    // `-c -u -q`, as btrfs-progs 6.2 prints it (a "-" parent_uuid padded to a uuid's width)
    expect(
      parseSubvolumeList(
        'ID 256 gen 19 cgen 7 top level 5 parent_uuid -                                    uuid af785b75-f9e4-5b4f-9f19-aaed96264bcc path base\n' +
          'ID 258 gen 12 cgen 12 top level 5 parent_uuid af785b75-f9e4-5b4f-9f19-aaed96264bcc uuid b3bbf55a-19c2-3942-9548-16cd2c3a3657 path home/snapshots/with space\n',
      ),
    ).toEqual([
      { id: 256, generation: 19, cgen: 7, topLevel: 5, parentUuid: null, uuid: 'af785b75-f9e4-5b4f-9f19-aaed96264bcc', path: 'base' },
      {
        id: 258,
        generation: 12,
        cgen: 12,
        topLevel: 5,
        parentUuid: 'af785b75-f9e4-5b4f-9f19-aaed96264bcc',
        uuid: 'b3bbf55a-19c2-3942-9548-16cd2c3a3657',
        path: 'home/snapshots/with space',
      },
    ]);
    expect(
      parseQgroupShow(
        'Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path \n--------  ---\n0/257  16384  16384  52428800  none  home/b\n',
      ),
    ).toEqual([{ qgroupid: '0/257', referenced: 16384, exclusive: 16384, maxReferenced: 52428800, maxExclusive: null }]);
    expect(
      parseFilesystemShow(
        "Label: 'data'  uuid: e2ab2c38-3584-4c7e-b303-fe4fc3642833\n\tTotal devices 1 FS bytes used 212992\n\tdevid    1 size 1073741824 used 132513792 path /dev/loop0\n",
      ),
    ).toEqual({
      label: 'data',
      uuid: 'e2ab2c38-3584-4c7e-b303-fe4fc3642833',
      devices: [{ devid: 1, size: 1073741824, used: 132513792, path: '/dev/loop0' }],
    });
    const usage = parseFilesystemUsage(
      'Overall:\n    Device size:\t\t        1073741824\n    Used:\t\t\t            425984\n    Free (estimated):\t\t         949616640\t(min: 479002624)\n    Data ratio:\t\t\t              1.00\n\nData,single: Size:8388608, Used:0 (0.00%)\n',
    );
    expect(usage).toMatchObject({ 'Device size': 1073741824, Used: 425984, 'Free (estimated)': 949616640, 'Data ratio': 1 });
  });
});

describe.runIf(btrfsAvailable)('btrfs-progs wrapper on a loopback btrfs', () => {
  const lb = useLoopbackBtrfs(512 << 20);
  const btrfs = createBtrfs();

  it('subvolumes: create, snapshot (read-only), show, list, delete', async () => {
    const mnt = lb.fs().mountpoint;
    await btrfs.subvolumeCreate(join(mnt, 'a'));
    await btrfs.subvolumeCreate(join(mnt, 'a', 'inner'));
    await btrfs.subvolumeSnapshot(join(mnt, 'a'), join(mnt, 'a-ro'), { readonly: true });
    const a = await btrfs.subvolumeShow(join(mnt, 'a'));
    const ro = await btrfs.subvolumeShow(join(mnt, 'a-ro'));
    expect(ro.readonly).toBe(true);
    expect(ro.parentUuid).toBe(a.uuid);
    expect(await btrfs.rootId(join(mnt, 'a'))).toBe(a.id);
    expect((await btrfs.subvolumeList(join(mnt, 'a'), { onlyBelow: true })).map((s) => s.path)).toEqual(['a/inner']);
    expect((await btrfs.subvolumeList(mnt)).map((s) => s.path).sort()).toEqual(['a', 'a-ro', 'a/inner']);
    await expect(btrfs.subvolumeDelete(join(mnt, 'a'))).rejects.toBeInstanceOf(ToolError);
    await btrfs.subvolumeDelete(join(mnt, 'a', 'inner'));
    await btrfs.subvolumeDelete(join(mnt, 'a'));
    await btrfs.subvolumeDelete(join(mnt, 'a-ro'));
    expect(await btrfs.subvolumeList(mnt)).toEqual([]);
  });

  it('generations, as the native diff relies on them: a snapshot is its source while their generations agree', async () => {
    const mnt = lb.fs().mountpoint;
    const src = join(mnt, 'g');
    await btrfs.subvolumeCreate(src);
    await writeFile(join(src, 'f'), 'x');
    const list = async () => new Map((await btrfs.subvolumeList(mnt, { details: true })).map((e) => [e.path, e]));
    // right after a read-only snapshot, the source's generation is the snapshot's creation
    await btrfs.subvolumeSnapshot(src, join(mnt, 'g-ro1'), { readonly: true });
    let l = await list();
    expect(l.get('g-ro1')).toMatchObject({
      parentUuid: l.get('g')!.uuid,
      cgen: l.get('g')!.generation,
      generation: l.get('g')!.generation,
    });
    // reading the snapshot, or syncing with nothing written, moves nothing
    await btrfs.filesystemSync(mnt);
    expect((await list()).get('g')!.generation).toBe(l.get('g')!.generation);
    // a write moves the source's generation once committed
    await writeFile(join(src, 'f'), 'y');
    await btrfs.filesystemSync(mnt);
    l = await list();
    expect(l.get('g')!.generation).toBeGreaterThan(l.get('g-ro1')!.cgen!);
    // so does another snapshot of it; the first snapshot's own generation stays its cgen
    await btrfs.subvolumeSnapshot(src, join(mnt, 'g-ro2'), { readonly: true });
    l = await list();
    expect(l.get('g')!.generation).toBe(l.get('g-ro2')!.cgen);
    expect(l.get('g-ro1')!.generation).toBe(l.get('g-ro1')!.cgen);
    for (const p of ['g-ro1', 'g-ro2', 'g']) await btrfs.subvolumeDelete(join(mnt, p));
  });

  it('errors carry the command, exit code and stderr', async () => {
    const err = (await btrfs.subvolumeShow(join(lb.fs().mountpoint, 'missing')).catch((e: unknown) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.command).toBe('btrfs');
    expect(err.args).toEqual(['subvolume', 'show', join(lb.fs().mountpoint, 'missing')]);
    expect(err.exitCode).toBe(1);
    expect(err.stderr).toMatch(/No such file|cannot find/i);
  });

  it('quotas and qgroups: enable, limit, show, create, destroy, rescan', async () => {
    const mnt = lb.fs().mountpoint;
    await btrfs.subvolumeCreate(join(mnt, 'q'));
    expect(await btrfs.quotaEnabled(mnt)).toBe(false);
    await btrfs.quotaEnable(mnt);
    expect(await btrfs.quotaEnabled(mnt)).toBe(true);
    await btrfs.qgroupLimit(10 << 20, join(mnt, 'q'));
    const id = await btrfs.rootId(join(mnt, 'q'));
    expect(await btrfs.qgroupShow(join(mnt, 'q'), { onlyOf: true })).toEqual([
      expect.objectContaining({ qgroupid: `0/${id}`, maxReferenced: 10 << 20, maxExclusive: null }),
    ]);
    await btrfs.qgroupCreate('1/100', mnt);
    expect((await btrfs.qgroupShow(mnt)).map((q) => q.qgroupid)).toContain('1/100');
    await btrfs.qgroupDestroy('1/100', mnt);
    expect((await btrfs.qgroupShow(mnt)).map((q) => q.qgroupid)).not.toContain('1/100');
    await btrfs.quotaRescan(mnt, { wait: true });
    await btrfs.qgroupLimit(null, join(mnt, 'q'));
    expect((await btrfs.qgroupShow(join(mnt, 'q'), { onlyOf: true }))[0].maxReferenced).toBeNull();
    await btrfs.quotaDisable(mnt);
    expect(await btrfs.quotaEnabled(mnt)).toBe(false);
    await btrfs.subvolumeDelete(join(mnt, 'q'));
  });

  it('filesystem show and usage, version, inode-resolve', async () => {
    const mnt = lb.fs().mountpoint;
    const fs = await btrfs.filesystemShow(mnt);
    expect(fs.devices.map((d) => d.path)).toEqual([lb.fs().device]);
    const usage = await btrfs.filesystemUsage(mnt);
    expect(usage['Device size']).toBe(512 << 20);
    expect(await btrfs.version()).toMatch(/^btrfs-progs v\d/);
    await btrfs.subvolumeCreate(join(mnt, 'links'));
    await writeFile(join(mnt, 'links', 'one'), 'x');
    await link(join(mnt, 'links', 'one'), join(mnt, 'links', 'two with space'));
    const ino = (await lstat(join(mnt, 'links', 'one'), { bigint: true })).ino;
    expect((await btrfs.inodeResolve(ino, join(mnt, 'links'))).sort()).toEqual(['one', 'two with space']);
    await btrfs.subvolumeDelete(join(mnt, 'links'));
  });
});
