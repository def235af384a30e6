// Docker makes the btrfs home a private mount point (moby's Init: mount.MakePrivate(home)):
// bind-mounted onto itself when it is not a mount point yet, then propagation "private", so
// that mounts made under it do not leak into other mount namespaces and back. Cleanup
// unmounts it. Unlike Docker we only unmount what is our own bind (a user's filesystem
// mounted at home is left mounted), recognised from /proc/self/mountinfo so that a bind
// left by a crashed process is also recognised and taken over.
import { realpath } from 'node:fs/promises';
import { relative } from 'node:path';
import { bindMount, makeMount, mountAt, readMountInfo, unmount, type MountInfo } from '@graphdriver/core/linux';

/** True when `m` shows at `path` exactly what the mount below it shows there: a self-bind. */
export function isSelfBind(mounts: readonly MountInfo[], m: MountInfo, path: string): boolean {
  const below = mounts.find((o) => o.id === m.parentId);
  if (!below || below.major !== m.major || below.minor !== m.minor) return false;
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
  let top = mountAt(await readMountInfo(), path);
  let owned = false;
  if (!top) {
    await bindMount(path, path);
    owned = true;
  } else {
    owned = isSelfBind(await readMountInfo(), top, path);
  }
  try {
    await makeMount(path, 'private');
  } catch (err) {
    if (owned) await unmount(path).catch(() => {});
    throw err;
  }
  let released = false;
  return {
    owned,
    async release() {
      if (released || !owned) return;
      released = true;
      const mounts = await readMountInfo();
      top = mountAt(mounts, path);
      if (!top || !isSelfBind(mounts, top, path)) return;
      // busy (a process has its cwd inside): detach it; the directory stays reachable
      await unmount(path).catch(() => unmount(path, { lazy: true }));
    },
  };
}
