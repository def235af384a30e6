// The mount table parser and its queries, on a recorded table and on this machine's.
import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { mountAt, mountOf, mountsUnder, parseMountInfo, readMountInfo, splitDev } from './mountinfo.js';

const sample = [
  '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro',
  '40 22 0:45 / /tmp/h\\040x/graph rw,relatime shared:20 - fuse.zfs zxpool/g rw,user_id=0',
  '41 40 0:46 / /tmp/h\\040x/graph/a rw - zfs zxpool/g/a rw,xattr',
  '42 40 0:47 / /tmp/h\\040x/graph/b rw - zfs zxpool/g/b rw',
  '43 42 0:48 /sub /tmp/h\\040x/graph/b rw - xfs /dev/loop3 rw,attr2,prjquota',
  'garbage line',
  '',
].join('\n');

describe('mountinfo', () => {
  it('parses every field, unescaping paths', () => {
    const e = parseMountInfo(sample);
    expect(e).toHaveLength(5);
    expect(e[1]).toEqual({
      id: 40,
      parentId: 22,
      major: 0,
      minor: 45,
      root: '/',
      mountpoint: '/tmp/h x/graph',
      options: ['rw', 'relatime'],
      fstype: 'fuse.zfs',
      source: 'zxpool/g',
      superOptions: ['rw', 'user_id=0'],
    });
    expect(e[4]).toMatchObject({ root: '/sub', superOptions: ['rw', 'attr2', 'prjquota'] });
  });

  it('mountAt is the topmost mount at a path; mountsUnder is deepest first, the top of a stack first', () => {
    const e = parseMountInfo(sample);
    expect(mountAt(e, '/tmp/h x/graph/b')?.id).toBe(43);
    expect(mountAt(e, '/tmp/h x')).toBeUndefined();
    expect(mountsUnder(e, '/tmp/h x/graph').map((m) => m.id)).toEqual([43, 42, 41, 40]);
    expect(mountsUnder(e, '/tmp/h')).toEqual([]);
  });

  it('splitDev follows glibc', () => {
    expect(splitDev(0xfe00n)).toEqual({ major: 254, minor: 0 });
    expect(splitDev((259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n))).toEqual({ major: 259, minor: 300 });
  });

  it('mountOf finds the mount holding a path on this machine', async () => {
    const m = await mountOf('/proc/self/status');
    expect(m?.mountpoint).toBe('/proc');
    const { major, minor } = splitDev((await stat('/', { bigint: true })).dev);
    expect(mountAt(await readMountInfo(), '/')).toMatchObject({ major, minor });
  });
});
