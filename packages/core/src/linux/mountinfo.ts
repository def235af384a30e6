// /proc/self/mountinfo: the one parser of the mount table every driver reads (proc(5)).
// One line per mount: id, parent id, major:minor, root, mount point, options, optional
// fields, "-", filesystem type, source, super options. Paths escape space, tab, newline and
// backslash as \ooo.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** One line of /proc/self/mountinfo (proc(5)), paths unescaped. */
export interface MountInfo {
  /** The mount's unique id. */
  id: number;
  /** Id of the mount it sits on (itself for the root of the tree). */
  parentId: number;
  /** Major number of the mounted filesystem's device (st_dev). */
  major: number;
  /** Minor number of the mounted filesystem's device. */
  minor: number;
  /** Root of the mount inside its filesystem ("/" unless a bind mount of a subdirectory). */
  root: string;
  /** Where it is mounted, absolute, as this process sees it. */
  mountpoint: string;
  /** Per-mount options, e.g. ['rw', 'relatime']. */
  options: string[];
  /** Filesystem type: "xfs", "overlay", "fuse.zfs"... */
  fstype: string;
  /** What is mounted: a device path, a dataset name, or "none"/"overlay" for virtual ones. */
  source: string;
  /** Per-superblock options, e.g. ['rw', 'attr2', 'prjquota']. */
  superOptions: string[];
}

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses the text of a mountinfo file; malformed lines are skipped rather than thrown on. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 2) continue;
    const [major, minor] = f[2].split(':').map(Number);
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      major,
      minor,
      root: unescapeOctal(f[3]),
      mountpoint: unescapeOctal(f[4]),
      options: f[5].split(','),
      fstype: f[sep + 1],
      source: unescapeOctal(f[sep + 2] ?? ''),
      superOptions: (f[sep + 3] ?? '').split(','),
    });
  }
  return out;
}

/** The mount table of this process, in mount order. */
export async function readMountInfo(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at exactly `path` (a resolved path), if it is a mount point. */
export function mountAt(entries: readonly MountInfo[], path: string): MountInfo | undefined {
  const at = entries.filter((m) => m.mountpoint === path);
  // the one no other mount at the same place sits on
  return at.find((m) => !at.some((o) => o.parentId === m.id)) ?? at[at.length - 1];
}

/**
 * Mounts at or below `dir`, deepest first (by mount point length, then latest first), which
 * is the order they can be unmounted in.
 */
export function mountsUnder(entries: readonly MountInfo[], dir: string): MountInfo[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries
    .map((e, i) => ({ e, i }))
    .filter(({ e }) => e.mountpoint === dir || e.mountpoint.startsWith(prefix))
    .sort((a, b) => b.e.mountpoint.length - a.e.mountpoint.length || b.i - a.i)
    .map(({ e }) => e);
}

/** glibc's major()/minor() of a 64-bit dev_t. */
export function splitDev(dev: bigint): {
  /** The device's major number. */
  major: number;
  /** The device's minor number. */
  minor: number;
} {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** `path` itself, or its nearest ancestor that exists, resolved. */
export async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      return await realpath(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw err;
    }
  }
}

/** The mount `path` (or its nearest existing ancestor) lives on: same device, longest mount point holding it. */
export async function mountOf(path: string, entries?: readonly MountInfo[]): Promise<MountInfo | undefined> {
  const real = await nearestExisting(path);
  const { major, minor } = splitDev((await stat(real, { bigint: true })).dev);
  let best: MountInfo | undefined;
  for (const m of entries ?? (await readMountInfo())) {
    if (m.major !== major || m.minor !== minor) continue;
    const inside = m.mountpoint === '/' || real === m.mountpoint || real.startsWith(m.mountpoint + '/');
    if (inside && !(best && best.mountpoint.length > m.mountpoint.length)) best = m;
  }
  return best;
}
