// Which mount holds a path, from /proc/self/mountinfo: xfs_quota wants the mount point,
// and the quota check wants the mount's options.
import { readFile, realpath, stat } from 'node:fs/promises';

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
  /** Per-superblock options, e.g. ['rw', 'attr2', 'prjquota']. */
  superOptions: string[];
}

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount `path` lives on: same device, longest mount point that is a prefix of it. */
export async function mountOf(path: string): Promise<MountEntry | undefined> {
  const real = await realpath(path);
  const dev = (await stat(real, { bigint: true })).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const devId = `${major}:${minor}`;
  let best: MountEntry | undefined;
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const head = line.slice(0, sep).split(' ');
    const tail = line.slice(sep + 3).split(' ');
    if (head[2] !== devId) continue;
    const mp = unescapeOctal(head[4]);
    const inside = mp === '/' || real === mp || real.startsWith(mp + '/');
    if (!inside || (best && best.mountpoint.length > mp.length)) continue;
    best = { mountpoint: mp, fstype: tail[0], source: unescapeOctal(tail[1] ?? ''), superOptions: (tail[2] ?? '').split(',') };
  }
  return best;
}
