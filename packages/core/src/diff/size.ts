// Docker's ChangesSize (pkg/archive/changes.go): the bytes a layer adds.
import { ChangeKind, type Change } from '../driver.js';
import { ClosedDirs } from '../fs/closed-dirs.js';
import { lstatQuiet, type FileStat } from '../fs/lstat.js';
import { S_IFDIR, S_IFMT, Yielder, yieldToLoop } from './walk-util.js';

/**
 * Sum of the sizes of the non-directory entries added or modified by `changes`, read from
 * `dir`; an inode with several links is counted once (keyed by inode number, as Docker).
 * Entries that cannot be lstat'ed are passed over, as Docker logs and skips them; one inside a
 * closed directory of the (non-root) caller's is reached by opening it for the walk (ClosedDirs).
 */
export async function changesSize(dir: string, changes: Change[]): Promise<number> {
  const closed = new ClosedDirs();
  try {
    return await sizeOf(dir, changes, closed);
  } finally {
    closed.restore();
  }
}

async function sizeOf(dir: string, changes: Change[], closed: ClosedDirs): Promise<number> {
  let size = 0;
  const seen = new Set<bigint>();
  const yielder = new Yielder();
  for (let i = 0; i < changes.length; i++) {
    if ((i & 1023) === 0 && yielder.due()) await yieldToLoop();
    const c = changes[i];
    if (c.kind !== ChangeKind.Modify && c.kind !== ChangeKind.Add) continue;
    let st: FileStat | undefined;
    const path = c.path === '/' ? dir : dir + c.path;
    try {
      st = lstatQuiet(path);
    } catch (err) {
      st = closed.openWayTo(path, false, err) ? lstatQuiet(path) : undefined;
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
