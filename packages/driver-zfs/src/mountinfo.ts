// /proc/self/mountinfo: the one view of mounts that is the same for both ZFS implementations
// (OpenZFS fstype "zfs", zfs-fuse "fuse.zfs"; the source is the dataset name in both). statfs
// cannot find the dataset under zfs-fuse: it reports the FUSE magic.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface MountEntry {
  major: number;
  minor: number;
  /** Root of the mount inside its filesystem ("/" unless a bind mount of a subdirectory). */
  root: string;
  mountpoint: string;
  fstype: string;
  source: string;
}

export const ZFS_FSTYPES: readonly string[] = ['zfs', 'fuse.zfs'];

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 3) continue;
    const [major, minor] = f[2].split(':').map(Number);
    out.push({
      major,
      minor,
      root: unescapeOctal(f[3]),
      mountpoint: unescapeOctal(f[4]),
      fstype: f[sep + 1],
      source: unescapeOctal(f[sep + 2]),
    });
  }
  return out;
}

export async function readMountinfo(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The entry mounted at exactly `path` (the last one: it hides earlier ones), if any. */
export function mountAt(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) if (e.mountpoint === path) found = e;
  return found;
}

/** Mounts at or below `dir`, deepest first, so they can be unmounted in that order. */
export function mountsUnder(entries: readonly MountEntry[], dir: string): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries
    .filter((e) => e.mountpoint === dir || e.mountpoint.startsWith(prefix))
    .sort((a, b) => b.mountpoint.length - a.mountpoint.length);
}

/** glibc's major()/minor() of a 64-bit dev_t. */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** `path` itself, or its nearest ancestor that exists, resolved. */
async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      return await realpath(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw err;
    }
  }
}

/**
 * The ZFS dataset whose filesystem holds `path` (or its nearest existing ancestor), found by
 * matching the path's device number with a zfs or fuse.zfs mount; undefined when not on ZFS.
 */
export async function zfsDatasetHolding(
  path: string,
  entries?: readonly MountEntry[],
): Promise<{ dataset: string; fstype: string; mountpoint: string } | undefined> {
  const existing = await nearestExisting(path);
  const { major, minor } = splitDev((await stat(existing, { bigint: true })).dev);
  const all = entries ?? (await readMountinfo());
  const hit = all.find((e) => e.major === major && e.minor === minor && ZFS_FSTYPES.includes(e.fstype));
  return hit && { dataset: hit.source, fstype: hit.fstype, mountpoint: hit.mountpoint };
}
