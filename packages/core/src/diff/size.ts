// Docker's ChangesSize (pkg/archive/changes.go): the bytes a layer adds.
import { lstatSync, type BigIntStats } from 'node:fs';
import { ChangeKind, type Change } from '../driver.js';
import { LSTAT_QUIET, S_IFDIR, S_IFMT, Yielder, yieldToLoop } from './walk-util.js';

/**
 * Sum of the sizes of the non-directory entries added or modified by `changes`, read from
 * `dir`; an inode with several links is counted once (keyed by inode number, as Docker).
 * Entries that cannot be lstat'ed are passed over, as Docker logs and skips them.
 */
export async function changesSize(dir: string, changes: Change[]): Promise<number> {
  let size = 0;
  const seen = new Set<bigint>();
  const yielder = new Yielder();
  for (let i = 0; i < changes.length; i++) {
    if ((i & 1023) === 0 && yielder.due()) await yieldToLoop();
    const c = changes[i];
    if (c.kind !== ChangeKind.Modify && c.kind !== ChangeKind.Add) continue;
    let st: BigIntStats | undefined;
    try {
      st = lstatSync(c.path === '/' ? dir : dir + c.path, LSTAT_QUIET);
    } catch {
      st = undefined;
    }
    if (st === undefined || (Number(st.mode) & S_IFMT) === S_IFDIR) continue;
    if (st.nlink > 1n) {
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
    }
    size += Number(st.size);
  }
  return size;
}
