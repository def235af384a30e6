import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { splitDev, type MountInfo } from '@graphdriver/core/linux';
import { zfsDatasetHolding } from './mountinfo.js';

// The mount table itself is parsed by core (@graphdriver/core/linux, its own tests there).
const entry = (e: Omit<MountInfo, 'id' | 'parentId' | 'options' | 'superOptions'>): MountInfo => ({
  id: 0,
  parentId: 0,
  options: [],
  superOptions: [],
  ...e,
});

describe('mountinfo', () => {
  it('names the zfs dataset holding a path by device number, or nothing', async () => {
    const { major, minor } = splitDev((await stat('/tmp', { bigint: true })).dev);
    const asZfs = (fstype: string) => [
      entry({ major, minor, root: '/', mountpoint: '/tmp', fstype, source: 'tank/tmp' }),
      entry({ major: major + 1, minor, root: '/', mountpoint: '/x', fstype: 'zfs', source: 'tank/other' }),
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
