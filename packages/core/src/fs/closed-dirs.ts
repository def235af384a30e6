// Closed directories in a rootless store: a layer may hold a directory its owner cannot list or
// enter (mode 0000, 0200...; root lists it anyway). The diff walkers (changes, export, sizes)
// run as that owner, who may chmod it: a walker opens such a directory (u+rx) when it meets
// it, keeps it open while it walks below it, and puts every mode back when the walk ends.
// Modes are read before a directory is opened, so headers and comparisons see the real ones.
import { chmodSync, lstatSync, readdirSync, type Dirent } from 'node:fs';
import { isErrno } from '../linux/errno.js';

const myUid = process.getuid?.() ?? 0;

export class ClosedDirs {
  /** Directories opened so far with the permission bits they had, in the order opened. */
  private readonly opened: Array<{ path: string; mode: number }> = [];

  /** readdirSync(path), opening `path` first when it is a closed directory of ours. */
  names(path: string): string[] {
    try {
      return readdirSync(path);
    } catch (err) {
      if (!this.open(path, err)) throw err;
      return readdirSync(path);
    }
  }

  /** readdirSync(path, { withFileTypes }), as names(). */
  entries(path: string): Dirent[] {
    try {
      return readdirSync(path, { withFileTypes: true });
    } catch (err) {
      if (!this.open(path, err)) throw err;
      return readdirSync(path, { withFileTypes: true });
    }
  }

  /**
   * After an EACCES below `root` (an lstat or open of `root + rel`): opens the closed
   * directories of ours on the way down to it. True when one was opened (try again).
   */
  openPathTo(root: string, rel: string, err: unknown): boolean {
    if (!isErrno(err, 'EACCES') || myUid === 0) return false;
    const parts = rel.split('/').filter(Boolean);
    let dir = root.replace(/\/+$/, '');
    let any = false;
    for (let i = 0; i < parts.length - 1; i++) {
      dir += '/' + parts[i];
      const st = lstatSync(dir, { throwIfNoEntry: false });
      if (st === undefined || !st.isDirectory() || st.uid !== myUid || (st.mode & 0o100) !== 0) continue;
      this.widen(dir, st.mode & 0o7777);
      any = true;
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

  /** Opens `path` when `err` says it is closed to us and it is ours; false otherwise. */
  private open(path: string, err: unknown): boolean {
    if (!isErrno(err, 'EACCES') || myUid === 0) return false;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory() || st.uid !== myUid || (st.mode & 0o500) === 0o500) return false;
    this.widen(path, st.mode & 0o7777);
    return true;
  }

  private widen(path: string, mode: number): void {
    this.opened.push({ path, mode });
    chmodSync(path, mode | 0o500);
  }
}
