// Real filesystems for tests: a sparse image file on a loop device, formatted and mounted,
// then torn down leaving no loop device or mount behind.
import { mkdtemp, rm, rmdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '../exec.js';
import { attachLoop, detachLoop } from '../linux/loop.js';
import { mount, unmount } from '../linux/mount.js';

export type LoopbackKind = 'btrfs' | 'xfs' | 'ext4';

export interface LoopbackFs {
  kind: LoopbackKind;
  mountpoint: string;
  device: string;
  image: string;
  teardown(): Promise<void>;
}

export interface LoopbackOptions {
  /** Image size in bytes (sparse). Defaults: btrfs 512 MiB, xfs 512 MiB, ext4 256 MiB. */
  size?: number;
  /** Extra mount options, e.g. 'prjquota' for XFS project quotas. */
  mountOptions?: string;
}

const mkfs: Record<LoopbackKind, { cmd: ReturnType<typeof tool>; args: string[]; size: number }> = {
  btrfs: { cmd: tool('mkfs.btrfs'), args: ['-q', '-f'], size: 512 << 20 },
  xfs: { cmd: tool('mkfs.xfs'), args: ['-q', '-f'], size: 512 << 20 },
  ext4: { cmd: tool('mkfs.ext4'), args: ['-q', '-F'], size: 256 << 20 },
};

export async function makeLoopbackFs(kind: LoopbackKind, opts: LoopbackOptions = {}): Promise<LoopbackFs> {
  const work = await mkdtemp(join(tmpdir(), `gd-${kind}-`));
  const image = join(work, 'image');
  const mountpoint = join(work, 'mnt');
  await writeFile(image, '');
  await truncate(image, opts.size ?? mkfs[kind].size);
  let device = '';
  let mounted = false;
  const teardown = async () => {
    if (mounted) {
      await unmount(mountpoint).catch(() => unmount(mountpoint, { lazy: true }));
      mounted = false;
    }
    if (device) {
      await detachLoop(device).catch(() => {});
      device = '';
    }
    await rm(work, { recursive: true, force: true });
  };
  try {
    device = await attachLoop(image);
    await mkfs[kind].cmd.run([...mkfs[kind].args, device]);
    await rmdir(mountpoint).catch(() => {});
    await import('node:fs/promises').then((fs) => fs.mkdir(mountpoint));
    await mount(device, mountpoint, { options: opts.mountOptions });
    mounted = true;
  } catch (err) {
    await teardown();
    throw err;
  }
  return { kind, mountpoint, device, image, teardown };
}

/** True when this process can make loop devices (root with losetup available). */
export function canMakeLoopback(): boolean {
  return process.getuid?.() === 0;
}
