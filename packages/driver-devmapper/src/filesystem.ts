// The filesystem on the thin devices: make, grow, mount. ext4 or xfs, as Docker's dm.fs.
import { readFile } from 'node:fs/promises';
import { tool } from '@graphdriver/core';

export type FsType = 'ext4' | 'xfs';

const mkfs = { ext4: tool('mkfs.ext4'), xfs: tool('mkfs.xfs') };
const resize2fs = tool('resize2fs');
const xfsGrowfs = tool('xfs_growfs');
const mountCmd = tool('mount');
const umountCmd = tool('umount');

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
  await mountCmd.run(['-t', fs, ...(options ? ['-o', options] : []), device, target]);
}

export async function unmount(target: string): Promise<void> {
  await umountCmd.run([target]);
}

/** Grows a mounted filesystem to fill its (already enlarged) device. */
export async function growFilesystem(fs: FsType, device: string, mountpoint: string): Promise<void> {
  if (fs === 'ext4') await resize2fs.run([device]);
  else await xfsGrowfs.run([mountpoint]);
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => unescapeOctal(l.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}
