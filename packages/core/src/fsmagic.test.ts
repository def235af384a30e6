import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsMagic, fsName, fsNames, getFSMagic } from './fsmagic.js';
import { tool } from './exec.js';
import { requireBackingSystem } from './testing/backing-system.js';
import { canMakeLoopback, makeLoopbackFs, type LoopbackFs } from './testing/loopback.js';

describe('FsMagic table', () => {
  it('has moby and containers/storage entries', () => {
    expect(FsMagic.btrfs).toBe(0x9123683e);
    expect(FsMagic.extfs).toBe(0xef53);
    expect(FsMagic.xfs).toBe(0x58465342);
    expect(FsMagic.zfs).toBe(0x2fc12fc1);
    expect(FsMagic.tmpfs).toBe(0x01021994);
    expect(FsMagic.overlayfs).toBe(0x794c7630);
    expect(FsMagic.erofs).toBe(0xe0f5e1e2);
    expect(FsMagic.vboxsf).toBe(0x786f4256);
    expect(Object.keys(FsMagic).length).toBeGreaterThanOrEqual(38);
    expect(fsNames.get(0x9123683e)).toBe('btrfs');
    expect(fsName(0x12345)).toBe('0x12345');
  });
});

describe('getFSMagic on real filesystems', () => {
  it('ext4 (the root filesystem here)', async () => {
    expect(fsName(await getFSMagic('/'))).toBe('extfs');
  });

  const tmpfsDir = join(tmpdir(), `gd-tmpfs-${process.pid}`);
  const mounts: LoopbackFs[] = [];
  const root = requireBackingSystem('fsmagic: the tmpfs/btrfs/xfs checks', canMakeLoopback() ? null : 'loop devices and mounts need root');

  beforeAll(async () => {
    if (!root) return;
    await tool('mkdir').run(['-p', tmpfsDir]);
    await tool('mount').run(['-t', 'tmpfs', 'tmpfs', tmpfsDir]);
  });
  afterAll(async () => {
    if (!root) return;
    await tool('umount')
      .run([tmpfsDir])
      .catch(() => {});
    await rm(tmpfsDir, { recursive: true, force: true });
    for (const m of mounts) await m.teardown();
  });

  it.runIf(root)('tmpfs', async () => {
    expect(await getFSMagic(tmpfsDir)).toBe(FsMagic.tmpfs);
  });
  it.runIf(root)('loopback btrfs', async () => {
    const fs = await makeLoopbackFs('btrfs');
    mounts.push(fs);
    expect(await getFSMagic(fs.mountpoint)).toBe(FsMagic.btrfs);
    expect(fsName(await getFSMagic(fs.mountpoint))).toBe('btrfs');
  });
  it.runIf(root)('loopback xfs', async () => {
    const fs = await makeLoopbackFs('xfs', { size: 320 << 20 });
    mounts.push(fs);
    expect(await getFSMagic(fs.mountpoint)).toBe(FsMagic.xfs);
  });
  it('a missing path is an error, not a magic number', async () => {
    const d = await mkdtemp(join(tmpdir(), 'gd-'));
    await expect(getFSMagic(join(d, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await rm(d, { recursive: true });
  });
});
