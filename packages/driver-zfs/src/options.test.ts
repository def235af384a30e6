import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@graphdriver/core';
import { parseZfsOptions } from './options.js';

describe('zfs driver options', () => {
  it('reads zfs.fsname and zfs.mountopt (keys case-insensitive)', () => {
    expect(parseZfsOptions(['zfs.fsname=tank/docker', 'ZFS.MountOpt=noatime, nodev'])).toEqual({
      fsname: 'tank/docker',
      mountOptions: ['noatime', 'nodev'],
      hangTimeoutMs: 10_000, // the fuse watchdog's default (zfs.hangtimeout)
    });
    expect(parseZfsOptions([])).toEqual({ mountOptions: [], hangTimeoutMs: 10_000 });
  });

  it('rejects unknown keys and unusable dataset names', () => {
    const invalid = expect.objectContaining({ code: ErrorCode.InvalidOption });
    expect(() => parseZfsOptions(['zfs.size=1G'])).toThrow(invalid);
    expect(() => parseZfsOptions(['zfs.fsname=-o'])).toThrow(invalid);
    expect(() => parseZfsOptions(['zfs.fsname=tank/a b'])).toThrow(invalid);
    expect(() => parseZfsOptions(['zfs.fsname=tank/x@snap'])).toThrow(invalid);
  });
});
