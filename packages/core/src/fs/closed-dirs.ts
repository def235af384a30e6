// Closed directories in a rootless store: a layer may hold a directory its owner cannot list
// (no u+r) or enter (no u+x): mode 0000, 0400, 0300... Root reads them anyway. The diff
// walkers (changes, export, sizes) run as that owner, who may chmod it: a walker opens such a
// directory (u+rx) when it meets it, keeps it open while it walks below it, and puts every
// mode back when the walk ends. Modes are read before a directory is opened, so headers and
// comparisons see the real ones.
import { chmodSync, lstatSync, readdirSync, type BigIntStats, type Dirent } from 'node:fs';
import { isErrno } from '../linux/errno.js';

const myUid = process.getuid?.() ?? 0;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export class ClosedDirs {
  /** Directories opened so far with the permission bits they had, in the order opened. */
  private readonly opened: Array<{ path: string; mode: number }> = [];

  /**
   * readdirSync(path). `st`, the directory's lstat when the caller has it, lets one it may
   * list but not enter (0400) be opened before its entries are lstat'ed; without it, a
   * directory that cannot be listed is opened on EACCES, with the way down to it.
   */
  names(path: string, st?: BigIntStats): string[] {
    if (st) this.openIfClosed(path, Number(st.mode), Number(st.uid), 0o500);
    try {
      return readdirSync(path);
    } catch (err) {
      if (!this.openWayTo(path, true, err)) throw err;
      return readdirSync(path);
    }
  }

  /** readdirSync(path, { withFileTypes }), as names(). */
  entries(path: string, st?: BigIntStats): Dirent[] {
    if (st) this.openIfClosed(path, Number(st.mode), Number(st.uid), 0o500);
    try {
      return readdirSync(path, { withFileTypes: true });
    } catch (err) {
      if (!this.openWayTo(path, true, err)) throw err;
      return readdirSync(path, { withFileTypes: true });
    }
  }

  /**
   * After `err` from a call on `path` (an lstat, an open): when it is EACCES, opens the
   * closed directories of ours on the way down to `path` (and `path` itself with `self`).
   * True when one was opened: try again.
   */
  openWayTo(path: string, self: boolean, err: unknown): boolean {
    if (!isErrno(err, 'EACCES') || myUid === 0 || !path.startsWith('/')) return false;
    const parts = path.split('/').filter(Boolean);
    const last = self ? parts.length : parts.length - 1;
    let dir = '';
    let any = false;
    for (let i = 0; i < last; i++) {
      dir += '/' + parts[i];
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(dir, { throwIfNoEntry: false });
      } catch {
        return any; // not ours to open
      }
      if (st === undefined) return any;
      if (this.openIfClosed(dir, st.mode, st.uid, i === parts.length - 1 ? 0o500 : 0o100)) any = true;
    }
    return any;
  }

  /** Puts back every mode changed, innermost first. Safe to call more than once. */
  restore(): void {
    let first: unknown;
    for (let e = this.opened.pop(); e !== undefined; e = this.opened.pop()) {
      try {
        chmodSync(e.path, e.mode);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) first ??= err;
      }
    }
    if (first) throw first;
  }

  /** Gives `path` u+rx when it is a directory of ours lacking any of the `need` bits. */
  private openIfClosed(path: string, mode: number, uid: number, need: number): boolean {
    if (myUid === 0 || uid !== myUid || (mode & S_IFMT) !== S_IFDIR || (mode & need) === need) return false;
    this.opened.push({ path, mode: mode & 0o7777 });
    chmodSync(path, (mode & 0o7777) | 0o500);
    return true;
  }
}
