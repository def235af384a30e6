// Real filesystems for tests: a sparse image file on a loop device, formatted and mounted,
// then torn down leaving no loop device or mount behind.
import { mkdir, mkdtemp, rm, rmdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '../exec.js';
import { attachLoop, detachLoop } from '../linux/loop.js';
import { mount, unmount } from '../linux/mount.js';

/** Filesystems {@link makeLoopbackFs} can make. */
export type LoopbackKind = 'btrfs' | 'xfs' | 'ext4';

/** A scratch filesystem mounted for a test; call `teardown` when done (in `afterAll`). */
export interface LoopbackFs {
  /** The filesystem it was formatted with. */
  kind: LoopbackKind;
  /** Where it is mounted (a fresh directory under the OS temp dir). */
  mountpoint: string;
  /** The loop device behind it, e.g. /dev/loop3. */
  device: string;
  /** The sparse image file behind the loop device. */
  image: string;
  /**
   * Unmounts (lazily if busy), detaches the loop device and deletes the image. Safe to call
   * twice; unmount anything you mounted under `mountpoint` first.
   */
  teardown(): Promise<void>;
}

/** How {@link makeLoopbackFs} sizes and mounts the filesystem. */
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

/**
 * Makes a real `kind` filesystem for a test: a sparse image on a loop device, formatted and
 * mounted under a fresh temp dir. Needs root and the mkfs tool (see {@link canMakeLoopback});
 * fails with a ToolError (ERR_TOOL_FAILED) otherwise, leaving nothing behind.
 */
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
    await mkdir(mountpoint);
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
