import { describe, expect, it } from 'vitest';
import { tool } from '@graphdriver/core';
import { classifyFlavour, flavour, probeZfsVersion } from './flavour.js';

describe('flavour detection', () => {
  it('OpenZFS >= 0.8 answers `zfs version`', () => {
    const f = classifyFlavour({ outcome: 'ok', stdout: 'zfs-2.1.11-1\nzfs-kmod-2.1.11-1\n' }, true);
    expect(f).toEqual(flavour('openzfs', '2.1.11-1'));
    expect(f).toMatchObject({ legacyMount: true, listParsable: true, getParsable: true });
  });

  it('zfs-fuse does not know `zfs version` and has no /dev/zfs', () => {
    const probe = { outcome: 'failed', exitCode: 2, stderr: "unrecognized command 'version'\nusage: zfs command args ...\n" } as const;
    expect(classifyFlavour(probe, false)).toEqual(flavour('zfs-fuse'));
    expect(classifyFlavour(probe, false)).toMatchObject({ legacyMount: false, listParsable: false, getParsable: true });
    // the same answer with /dev/zfs present is OpenZFS older than 0.8
    expect(classifyFlavour(probe, true)).toEqual(flavour('openzfs', '< 0.8'));
  });

  it('says why zfs is unusable', () => {
    expect(classifyFlavour({ outcome: 'missing' }, false)).toEqual({ unavailable: 'the zfs command is not installed' });
    const noDaemon =
      'connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library\n';
    expect(classifyFlavour({ outcome: 'failed', exitCode: 1, stderr: noDaemon }, false)).toEqual({
      unavailable: 'the zfs-fuse daemon is not running',
    });
    const noModule = "The ZFS modules are not loaded.\nTry running '/sbin/modprobe zfs' as root to load them.\n";
    expect(classifyFlavour({ outcome: 'failed', exitCode: 1, stderr: noModule }, false)).toEqual({
      unavailable: 'the ZFS kernel module is not loaded',
    });
    expect(classifyFlavour({ outcome: 'failed', exitCode: 3, stderr: '' }, false)).toEqual({ unavailable: 'zfs does not answer: exit 3' });
  });

  it('probes a missing command as missing', async () => {
    expect(await probeZfsVersion(tool('graphdriver-no-such-zfs-command'))).toEqual({ outcome: 'missing' });
  });
});
