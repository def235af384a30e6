// /proc/self/mountinfo: the one view of mounts that is the same for both ZFS implementations
// (OpenZFS fstype "zfs", zfs-fuse "fuse.zfs"; the source is the dataset name in both). statfs
// cannot find the dataset under zfs-fuse: it reports the FUSE magic.
import { stat } from 'node:fs/promises';
import { nearestExisting, readMountInfo, splitDev, type MountInfo } from '@graphdriver/core/linux';

export const ZFS_FSTYPES: readonly string[] = ['zfs', 'fuse.zfs'];

/**
 * The ZFS dataset whose filesystem holds `path` (or its nearest existing ancestor), found by
 * matching the path's device number with a zfs or fuse.zfs mount; undefined when not on ZFS.
 */
export async function zfsDatasetHolding(
  path: string,
  entries?: readonly MountInfo[],
): Promise<{ dataset: string; fstype: string; mountpoint: string } | undefined> {
  const existing = await nearestExisting(path);
  const { major, minor } = splitDev((await stat(existing, { bigint: true })).dev);
  const all = entries ?? (await readMountInfo());
  const hit = all.find((e) => e.major === major && e.minor === minor && ZFS_FSTYPES.includes(e.fstype));
  return hit && { dataset: hit.source, fstype: hit.fstype, mountpoint: hit.mountpoint };
}
