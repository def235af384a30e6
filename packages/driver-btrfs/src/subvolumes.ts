// Finding and deleting subvolumes, nested ones included. btrfs-progs 6.2 has no recursive
// delete, and a subvolume holding another cannot be deleted, so nested subvolumes go first,
// deepest first (Docker's subvolDelete walks the layer the same way).
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Btrfs } from './btrfs.js';

/** Inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
export const SUBVOLUME_ROOT_INO = 256n;

export async function isSubvolume(path: string): Promise<boolean> {
  try {
    const st = await lstat(path, { bigint: true });
    return st.isDirectory() && st.ino === SUBVOLUME_ROOT_INO;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Subvolumes anywhere below `root` (not `root` itself), deepest first. */
export async function findNestedSubvolumes(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (await isSubvolume(p)) found.push(p);
      await walk(p);
    }
  };
  await walk(root);
  const depth = (p: string) => p.split('/').length;
  return found.sort((a, b) => depth(b) - depth(a));
}

/**
 * Deletes the subvolume at `path` and every subvolume nested in it. Returns the ids of the
 * subvolumes deleted when `withIds` (for their qgroups), else an empty list.
 */
export async function deleteSubvolumeTree(btrfs: Btrfs, path: string, withIds = false): Promise<number[]> {
  const ids: number[] = [];
  // `list -o` names the subvolumes directly inside this one: none means none at any depth,
  // which spares walking a big layer in the common case.
  const below = await btrfs.subvolumeList(path, { onlyBelow: true });
  if (below.length > 0) {
    for (const nested of await findNestedSubvolumes(path)) {
      if (withIds) ids.push(await btrfs.rootId(nested));
      await btrfs.subvolumeDelete(nested);
    }
  }
  if (withIds) ids.push(await btrfs.rootId(path));
  await btrfs.subvolumeDelete(path);
  return ids;
}
