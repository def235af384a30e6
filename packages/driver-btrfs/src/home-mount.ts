// Docker makes the btrfs home a private mount point (moby's Init: mount.MakePrivate(home)):
// bind-mounted onto itself when it is not a mount point yet, then propagation "private", so
// that mounts made under it do not leak into other mount namespaces and back. Cleanup
// unmounts it. Unlike Docker we only unmount what is our own bind (a user's filesystem
// mounted at home is left mounted), recognised from /proc/self/mountinfo so that a bind
// left by a crashed process is also recognised and taken over.
import { readFile, realpath } from 'node:fs/promises';
import { relative } from 'node:path';
import { tool } from '@graphdriver/core';

const mountTool = tool('mount');
const umountTool = tool('umount');

export interface MountInfo {
  id: number;
  parentId: number;
  /** "major:minor" */
  device: string;
  /** Path inside the filesystem that is mounted here. */
  root: string;
  mountpoint: string;
  fstype: string;
  source: string;
}

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0) continue;
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      device: f[2],
      root: unescapeOctal(f[3]),
      mountpoint: unescapeOctal(f[4]),
      fstype: f[sep + 1],
      source: unescapeOctal(f[sep + 2] ?? ''),
    });
  }
  return out;
}

export async function readMountInfo(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at `path` (a realpath), if it is a mount point. */
export function topMountAt(mounts: MountInfo[], path: string): MountInfo | undefined {
  const at = mounts.filter((m) => m.mountpoint === path);
  // the one no other mount at the same place sits on
  return at.find((m) => !at.some((o) => o.parentId === m.id)) ?? at[at.length - 1];
}

/** True when `m` shows at `path` exactly what the mount below it shows there: a self-bind. */
export function isSelfBind(mounts: MountInfo[], m: MountInfo, path: string): boolean {
  const below = mounts.find((o) => o.id === m.parentId);
  if (!below || below.device !== m.device) return false;
  const rel = relative(below.mountpoint, path);
  if (rel.startsWith('..')) return false;
  const expected = rel === '' ? below.root : (below.root === '/' ? '' : below.root) + '/' + rel;
  return m.root === expected;
}

export interface HomeMount {
  /** True when the mount at home is our bind and cleanup unmounts it. */
  readonly owned: boolean;
  release(): Promise<void>;
}

/** Makes `home` a private mount point, bind-mounting it onto itself when needed. */
export async function makePrivateMount(home: string): Promise<HomeMount> {
  const path = await realpath(home);
  let top = topMountAt(await readMountInfo(), path);
  let owned = false;
  if (!top) {
    await mountTool.run(['--bind', path, path]);
    owned = true;
  } else {
    owned = isSelfBind(await readMountInfo(), top, path);
  }
  try {
    await mountTool.run(['--make-private', path]);
  } catch (err) {
    if (owned) await umountTool.run([path]).catch(() => {});
    throw err;
  }
  let released = false;
  return {
    owned,
    async release() {
      if (released || !owned) return;
      released = true;
      const mounts = await readMountInfo();
      top = topMountAt(mounts, path);
      if (!top || !isSelfBind(mounts, top, path)) return;
      // busy (a process has its cwd inside): detach it; the directory stays reachable
      await umountTool.run([path]).catch(() => umountTool.run(['-l', path]));
    },
  };
}
