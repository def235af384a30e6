// Closed directories in a rootless store: a layer may hold a directory its owner cannot list
// (no u+r) or enter (no u+x): mode 0000, 0400, 0300... Root reads them anyway. The diff
// walkers (changes, export, sizes) run as that owner, who may chmod it: a walker opens such a
// directory (u+rx) when it meets it, keeps it open while it walks below it, and puts every
// mode back when the walk ends. Modes are read before a directory is opened, so headers and
// comparisons see the real ones.
import { chmodSync, lstatSync, readdirSync, type Dirent } from 'node:fs';
import type { FileStat } from './lstat.js';
import { isErrno } from '../linux/errno.js';

const myUid = process.getuid?.() ?? 0;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/**
 * Directories open right now in this process, by path, with their real permission bits and
 * how many walks are inside them: walks of the same layer at once (an export diffs a layer
 * and its child together) share one opening, and the last one out closes it.
 */
const openNow = new Map<string, { mode: number; refs: number }>();
const key = (path: string) => (path.length > 1 ? path.replace(/\/+$/, '') : path);

/** True while some walk of this process has a directory open. */
export const openDirs = (): boolean => openNow.size > 0;

/**
 * `mode` (a whole st_mode) with the permission bits `path` really has: another walk of this
 * process may have opened it. Costs nothing while no directory is open.
 */
export function realMode(path: string, mode: number): number {
  if (openNow.size === 0) return mode;
  const e = openNow.get(key(path));
  return e === undefined ? mode : (mode & ~0o7777) | e.mode;
}

export class ClosedDirs {
  /** Keys (in openNow) of the directories this walk opened or joined, in order. */
  private readonly opened: string[] = [];

  /**
   * readdirSync(path). `st`, the directory's lstat when the caller has it, lets one it may
   * list but not enter (0400) be opened before its entries are lstat'ed; without it, a
   * directory that cannot be listed is opened on EACCES, with the way down to it.
   */
  names(path: string, st?: FileStat): string[] {
    if (st) this.openIfClosed(path, Number(st.mode), Number(st.uid), 0o500);
    try {
      return readdirSync(path);
    } catch (err) {
      if (!this.openWayTo(path, true, err)) throw err;
      return readdirSync(path);
    }
  }

  /** readdirSync(path, { withFileTypes }), as names(). */
  entries(path: string, st?: FileStat): Dirent[] {
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
    for (let k = this.opened.pop(); k !== undefined; k = this.opened.pop()) {
      const e = openNow.get(k);
      if (e === undefined || --e.refs > 0) continue;
      openNow.delete(k);
      try {
        chmodSync(k, e.mode);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) first ??= err;
      }
    }
    if (first) throw first;
  }

  /** Gives `path` u+rx when it is a directory of ours lacking any of the `need` bits. */
  private openIfClosed(path: string, mode: number, uid: number, need: number): boolean {
    if (myUid === 0 || uid !== myUid || (mode & S_IFMT) !== S_IFDIR) return false;
    const k = key(path);
    const shared = openNow.get(k);
    if (shared !== undefined) {
      // opened by another walk: stay inside it with that walk
      if (this.opened.includes(k)) return false;
      shared.refs++;
      this.opened.push(k);
      return true;
    }
    if ((mode & need) === need) return false;
    openNow.set(k, { mode: mode & 0o7777, refs: 1 });
    this.opened.push(k);
    chmodSync(path, (mode & 0o7777) | 0o500);
    return true;
  }
}
