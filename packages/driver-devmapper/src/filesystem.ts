// The filesystem on the thin devices: make, grow, mount. ext4 or xfs, as Docker's dm.fs.
import { tool } from '@graphdriver/core';
import { mount, mountsUnder as mountsUnderIn, readMountInfo, unmount as unmountPath } from '@graphdriver/core/linux';

/** A filesystem the devicemapper driver can put on its thin devices (`dm.fs`). */
export type FsType = 'ext4' | 'xfs';

const mkfs = { ext4: tool('mkfs.ext4'), xfs: tool('mkfs.xfs') };
const resize2fs = tool('resize2fs');
const xfsGrowfs = tool('xfs_growfs');

export async function makeFilesystem(fs: FsType, device: string, extraArgs: readonly string[]): Promise<void> {
  // As Docker: no discard at mkfs time (thin devices are empty), itable/journal initialised now
  // so no lazy-init thread writes later behind a snapshot's back.
  const args = fs === 'ext4' ? ['-q', '-F', '-E', 'nodiscard,lazy_itable_init=0,lazy_journal_init=0'] : ['-q', '-f', '-K'];
  await mkfs[fs].run([...args, ...extraArgs, device]);
}

export function mountOptions(fs: FsType, userOptions: string): string {
  // xfs refuses a second filesystem with the same UUID, and every snapshot has its origin's
  const opts = [fs === 'xfs' ? 'nouuid' : '', userOptions].filter(Boolean);
  return opts.join(',');
}

export async function mountDevice(fs: FsType, device: string, target: string, options: string): Promise<void> {
  await mount(device, target, { type: fs, options });
}

export async function unmount(target: string): Promise<void> {
  await unmountPath(target);
}

/** Grows a mounted filesystem to fill its (already enlarged) device. */
export async function growFilesystem(fs: FsType, device: string, mountpoint: string): Promise<void> {
  if (fs === 'ext4') await resize2fs.run([device]);
  else await xfsGrowfs.run([mountpoint]);
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  return mountsUnderIn(await readMountInfo(), dir).map((m) => m.mountpoint);
}
