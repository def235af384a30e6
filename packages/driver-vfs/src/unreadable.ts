// Entries a plain user owns but cannot read: a file without u+r (Docker's graphtest base has a
// 04222 file) or a directory without u+rx. Root reads them anyway; an unprivileged cp cannot, so
// before copying a layer as non-root they are opened up (the owner may chmod), and afterwards
// both the source and the copy get their exact modes back. The store's per-layer lock keeps
// other operations on the layer out while its modes are widened.
import { chmod } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { tool } from '@graphdriver/core';

const find = tool('find', { env: { LC_ALL: 'C', LANG: 'C' } });

export interface WidenedEntry {
  /** Relative to the tree's root ('' for the root itself). */
  path: string;
  /** The permission bits it had (setuid, setgid and sticky included). */
  mode: number;
}

/**
 * Gives the owner read (files) and read+search (directories) wherever `uid` owns an entry
 * under `root` that lacks them; returns what was changed, parents before their children.
 * A directory it could not enter is opened and then searched in turn.
 */
export async function widenUnreadable(root: string, uid: number): Promise<WidenedEntry[]> {
  const widened: WidenedEntry[] = [];
  let pending = [root];
  try {
    while (pending.length) {
      const next: string[] = [];
      for (const start of pending) {
        // closed directories are pruned (find cannot enter them) and searched on the next round
        const { stdout } = await find.run([
          '-P',
          start,
          '-user',
          String(uid),
          '(',
          '-type',
          'd',
          '!',
          '-perm',
          '-u=rx',
          '-prune',
          '-printf',
          'd %m %p\\0',
          ')',
          '-o',
          '(',
          '-type',
          'f',
          '!',
          '-perm',
          '-u=r',
          '-printf',
          'f %m %p\\0',
          ')',
        ]);
        for (const rec of stdout.split('\0')) {
          if (!rec) continue;
          const kind = rec[0];
          const space = rec.indexOf(' ', 2);
          const mode = parseInt(rec.slice(2, space), 8);
          const path = rec.slice(space + 1);
          await chmod(path, mode | (kind === 'd' ? 0o500 : 0o400));
          widened.push({ path: relative(root, path), mode });
          if (kind === 'd') next.push(path);
        }
      }
      pending = next;
    }
  } catch (err) {
    await restoreModes(root, widened);
    throw err;
  }
  return widened;
}

/** Puts the modes back under `root` (children before parents, so each is still reachable). */
export async function restoreModes(root: string, entries: readonly WidenedEntry[]): Promise<void> {
  let first: unknown;
  for (const e of [...entries].reverse()) {
    await chmod(join(root, e.path), e.mode).catch((err) => (first ??= err));
  }
  if (first) throw first;
}
