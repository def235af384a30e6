// What applyLayer needs to put a layer back as it was when an archive is refused half way.
//
// A layer that was empty when the apply began is put back by emptying it again and
// restoring the root's own metadata: nothing needs recording while the archive applies.
// A layer that already held content (a vfs child is a copy of its parent; any caller may
// apply onto a populated directory) keeps an undo journal instead, in the order things
// happened: names created, objects displaced (renamed into a private backup directory
// inside the root, same filesystem, instead of being deleted), metadata of existing
// objects before it changed (a directory entry over an existing directory, a hardlink
// entry's chmod/chown on an inode it shares), and the times of existing directories before
// their first entry was added or removed. Rollback replays it backwards; on success the
// backup directory is removed, which costs what deleting the displaced objects would have.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { errnoCode } from '../errors.js';
import { removeTreeSync } from '../fs/remove-tree.js';
import { restoreTimesNs } from '../fs/times.js';
import { splitRel } from '../fs/safe-path.js';
import { lgetxattrSync, llistxattrSync, xattrBinding, type Binding } from '../fs/xattr.js';

interface Meta {
  uid: number;
  gid: number;
  mode: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  symlink: boolean;
  /** Extended attributes, when the change can touch them. */
  xattrs?: Map<string, Buffer>;
}

type Step =
  | { kind: 'created'; rel: string }
  | { kind: 'moved'; rel: string; backup: string }
  | { kind: 'meta'; rel: string; meta: Meta }
  | { kind: 'times'; rel: string; atimeNs: bigint; mtimeNs: bigint };

function readMeta(abs: string, withXattrs: boolean): Meta | undefined {
  const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return undefined;
  const meta: Meta = {
    uid: Number(st.uid),
    gid: Number(st.gid),
    mode: Number(st.mode) & 0o7777,
    atimeNs: st.atimeNs,
    mtimeNs: st.mtimeNs,
    symlink: st.isSymbolicLink(),
  };
  if (withXattrs) {
    const b = xattrBinding();
    meta.xattrs = new Map();
    try {
      for (const name of llistxattrSync(b, abs)) {
        const v = lgetxattrSync(b, abs, name);
        if (v !== null) meta.xattrs.set(name, v);
      }
    } catch {
      // a filesystem without xattrs: nothing to restore
    }
  }
  return meta;
}

async function writeMeta(abs: string, m: Meta): Promise<void> {
  fs.lchownSync(abs, m.uid, m.gid); // before chmod: chown clears set-id bits
  if (m.xattrs) restoreXattrs(xattrBinding(), abs, m.xattrs);
  if (!m.symlink) fs.chmodSync(abs, m.mode);
  await restoreTimesNs(abs, m.atimeNs, m.mtimeNs);
}

function restoreXattrs(b: Binding, abs: string, old: Map<string, Buffer>): void {
  for (const name of llistxattrSync(b, abs)) if (!old.has(name)) b.removeAttributeSync(abs, name);
  for (const [name, v] of old) b.setAttributeSync(abs, name, v);
}

export class ApplyUndo {
  /** Root-relative name of the backup directory (one component, unguessable). */
  readonly backupName: string;
  private readonly steps: Step[] = [];
  /** Directories whose times are recorded, or that this run made (nothing to record). */
  private readonly timed = new Set<string>();
  private backupMade = false;
  private moves = 0;
  private readonly rootMeta: Meta;

  private constructor(
    private readonly root: string,
    /** The root held nothing: rollback empties it, no journal kept. */
    readonly fresh: boolean,
  ) {
    this.backupName = `.graphdriver-undo-${randomBytes(8).toString('hex')}`;
    this.rootMeta = readMeta(root, false)!;
  }

  static start(root: string): ApplyUndo {
    return new ApplyUndo(root, fs.readdirSync(root).length === 0);
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Call before adding or removing a name in the directory of `rel`. */
  beforeChangeIn(rel: string): void {
    if (this.fresh) return;
    const dir = splitRel(rel)[0];
    if (this.timed.has(dir)) return;
    this.timed.add(dir);
    const st = fs.lstatSync(this.abs(dir), { bigint: true, throwIfNoEntry: false });
    if (st?.isDirectory()) this.steps.push({ kind: 'times', rel: dir, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
  }

  /** Records that `rel` was created by this run (a directory made here needs no times). */
  created(rel: string, dir = false): void {
    if (this.fresh) return;
    this.steps.push({ kind: 'created', rel });
    if (dir) this.timed.add(rel);
  }

  /** Call before changing the owner, mode, xattrs or times of the object at `rel`. */
  beforeMeta(rel: string, xattrs: boolean): void {
    if (this.fresh) {
      if (rel === '' && xattrs && this.rootMeta.xattrs === undefined) {
        this.rootMeta.xattrs = readMeta(this.root, true)?.xattrs;
      }
      return;
    }
    const meta = readMeta(this.abs(rel), xattrs);
    if (meta) this.steps.push({ kind: 'meta', rel, meta });
  }

  /**
   * Takes the object at `rel` out of the tree: deleted in a fresh root, else renamed into
   * the backup directory for rollback. False when nothing was there.
   */
  displace(rel: string): boolean {
    const abs = this.abs(rel);
    if (this.fresh) return removeTreeSync(abs);
    this.beforeChangeIn(rel);
    if (!this.backupMade) {
      fs.mkdirSync(this.abs(this.backupName), 0o700);
      this.backupMade = true;
    }
    const backup = `${this.backupName}/${++this.moves}`;
    try {
      fs.renameSync(abs, this.abs(backup));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    this.steps.push({ kind: 'moved', rel, backup });
    return true;
  }

  /** The apply succeeded: drop what was kept for a rollback. */
  /**
   * @param rootTime the time the archive gave the root (its "./" entry), if it did: removing
   * the backup directory changes the root's times, so they are set again, with the same
   * call applyLayer made. (Without such an entry, the root's times are the apply's own.)
   */
  commit(rootTime: number | undefined): void {
    if (this.backupMade) {
      removeTreeSync(this.abs(this.backupName));
      if (rootTime !== undefined) fs.lutimesSync(this.root, rootTime, rootTime);
    }
    this.steps.length = 0;
  }

  /** Puts the root back as it was when start() was called. Best effort; throws the first failure. */
  async rollback(): Promise<void> {
    let first: unknown;
    const attempt = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        first ??= err;
      }
    };
    if (this.fresh) {
      for (const name of fs.readdirSync(this.root)) await attempt(() => removeTreeSync(this.abs(name)));
    } else {
      for (let i = this.steps.length - 1; i >= 0; i--) {
        const s = this.steps[i];
        await attempt(() => {
          switch (s.kind) {
            case 'created':
              removeTreeSync(this.abs(s.rel));
              break;
            case 'moved':
              removeTreeSync(this.abs(s.rel));
              fs.renameSync(this.abs(s.backup), this.abs(s.rel));
              break;
            case 'meta':
              return writeMeta(this.abs(s.rel), s.meta);
            case 'times':
              return restoreTimesNs(this.abs(s.rel), s.atimeNs, s.mtimeNs);
          }
        });
      }
      if (this.backupMade) await attempt(() => removeTreeSync(this.abs(this.backupName)));
    }
    // The root's times last: every step above changed them.
    await attempt(() => writeMeta(this.root, this.rootMeta));
    this.steps.length = 0;
    if (first !== undefined) throw first;
  }
}
