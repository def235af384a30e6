import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { mountAt, mountsUnder, parseMountinfo, splitDev, zfsDatasetHolding } from './mountinfo.js';

const sample = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
  '42 27 0:39 / /tmp/zxmnt rw,relatime - fuse.zfs zxpool rw,user_id=0,group_id=0,default_permissions,allow_other',
  '43 27 0:40 / /tmp/h\\040x/graph/a rw,relatime - fuse.zfs zxpool/g/a rw,user_id=0',
  '44 27 0:41 / /tmp/h\\040x/graph/b rw shared:5 master:1 - zfs tank/g/b rw,xattr,noacl',
  '45 44 0:42 / /tmp/h\\040x/graph/b/inner rw - tmpfs tmpfs rw',
  '',
].join('\n');

describe('mountinfo', () => {
  it('parses entries, optional fields and octal escapes', () => {
    const e = parseMountinfo(sample);
    expect(e).toHaveLength(5);
    expect(e[1]).toEqual({ major: 0, minor: 39, root: '/', mountpoint: '/tmp/zxmnt', fstype: 'fuse.zfs', source: 'zxpool' });
    expect(e[2].mountpoint).toBe('/tmp/h x/graph/a');
    expect(e[3]).toMatchObject({ fstype: 'zfs', source: 'tank/g/b', mountpoint: '/tmp/h x/graph/b' });
  });

  it('finds the mount at a path and mounts under a directory, deepest first', () => {
    const e = parseMountinfo(sample);
    expect(mountAt(e, '/tmp/h x/graph/a')?.source).toBe('zxpool/g/a');
    expect(mountAt(e, '/tmp/h x/graph')).toBeUndefined();
    expect(mountsUnder(e, '/tmp/h x/graph').map((m) => m.mountpoint)).toEqual([
      '/tmp/h x/graph/b/inner',
      '/tmp/h x/graph/a',
      '/tmp/h x/graph/b',
    ]);
    expect(mountsUnder(e, '/tmp/h')).toEqual([]);
  });

  it("splits dev_t as glibc's major()/minor()", () => {
    expect(splitDev(0xfe00n)).toEqual({ major: 254, minor: 0 });
    expect(splitDev(40n)).toEqual({ major: 0, minor: 40 });
    // minor 300 on major 259 (nvme partitions): the high minor bits sit above bit 20
    expect(splitDev((259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n))).toEqual({ major: 259, minor: 300 });
  });

  it('names the zfs dataset holding a path by device number, or nothing', async () => {
    const { major, minor } = splitDev((await stat('/tmp', { bigint: true })).dev);
    const asZfs = (fstype: string) => [
      { major, minor, root: '/', mountpoint: '/tmp', fstype, source: 'tank/tmp' },
      { major: major + 1, minor, root: '/', mountpoint: '/x', fstype: 'zfs', source: 'tank/other' },
    ];
    expect(await zfsDatasetHolding('/tmp/does/not/exist/yet', asZfs('fuse.zfs'))).toEqual({
      dataset: 'tank/tmp',
      fstype: 'fuse.zfs',
      mountpoint: '/tmp',
    });
    expect((await zfsDatasetHolding('/tmp', asZfs('zfs')))?.dataset).toBe('tank/tmp');
    expect(await zfsDatasetHolding('/tmp', asZfs('ext4'))).toBeUndefined();
  });
});
