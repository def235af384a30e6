import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@graphdriver/core';
import { parseDevmapperOptions } from './options.js';
import { deviceHash } from './metadata.js';

describe('dm.* options', () => {
  it('has Docker defaults', () => {
    const o = parseDevmapperOptions([]);
    expect(o).toMatchObject({
      baseSize: 10 * 2 ** 30,
      loopDataSize: 100 * 2 ** 30,
      loopMetadataSize: 2 * 2 ** 30,
      fs: 'ext4',
      blockSizeSectors: 128,
      minFreeSpacePercent: 10,
    });
  });
  it('parses every option', () => {
    const o = parseDevmapperOptions([
      'dm.basesize=20G',
      'dm.loopdatasize=1G',
      'dm.loopmetadatasize=64M',
      'dm.fs=xfs',
      'dm.mkfsarg=-b size=4096',
      'dm.mountopt=noatime',
      'dm.mountopt=discard',
      'dm.blocksize=512K',
      'dm.min_free_space=5%',
      'dm.use_deferred_removal=true',
      'dm.use_deferred_deletion=true',
    ]);
    expect(o).toMatchObject({
      baseSize: 20 * 2 ** 30,
      loopDataSize: 2 ** 30,
      loopMetadataSize: 64 * 2 ** 20,
      fs: 'xfs',
      mkfsArgs: ['-b size=4096'],
      mountOptions: 'noatime,discard',
      blockSizeSectors: 1024,
      minFreeSpacePercent: 5,
      deferredRemoval: true,
      deferredDeletion: true,
    });
    expect(parseDevmapperOptions(['dm.thinpooldev=/dev/mapper/mypool']).thinPoolDev).toBe('mypool');
  });
  it.each([
    ['dm.fs=btrfs'],
    ['dm.blocksize=1000'],
    ['dm.blocksize=2G'],
    ['dm.min_free_space=10'],
    ['dm.min_free_space=100%'],
    ['dm.basesize=huge'],
    ['dm.bogus=1'],
    ['dm.use_deferred_removal=maybe'],
    ['dm.datadev=/dev/sdb'],
    ['dm.use_deferred_deletion=true'],
  ])('refuses %s', (opt) => {
    expect(() => parseDevmapperOptions([opt])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
  });
  it('refuses a pool together with data devices', () => {
    expect(() => parseDevmapperOptions(['dm.thinpooldev=p', 'dm.datadev=/dev/a', 'dm.metadatadev=/dev/b'])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
  });
  it('names devices by id when dm-safe, else by a bounded hash', () => {
    expect(deviceHash('a'.repeat(64))).toBe('a'.repeat(64));
    expect(deviceHash('sha256:abc')).toBe('sha256:abc');
    expect(deviceHash('a'.repeat(65))).toMatch(/^h-[0-9a-f]{40}$/);
    expect(deviceHash('with space')).toMatch(/^h-/);
    expect(deviceHash('.hidden')).toMatch(/^h-/);
    expect(deviceHash('x y')).not.toBe(deviceHash('x_y'));
  });
});
