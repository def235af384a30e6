// Confinement of paths to a root directory, for unpacking untrusted archives.
//
// `cleanEntryName` turns an archive name into a root-relative path or refuses it.
// `SafeRoot` walks such paths one component at a time with lstat, never letting a symlink
// take the walk out of the root: a symlink met on the way is resolved as if the root were
// "/" (absolute targets start at the root), and a target that climbs above the root with
// ".." is refused with ERR_UNSAFE_ENTRY rather than clamped. It also remembers which paths
// are verified real directories (no symlink anywhere from the root down), so that a run
// over thousands of entries does not lstat the same parents again and again; callers must
// `forget` a path whenever they remove or replace it.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { ErrorCode, GraphDriverError } from '../errors.js';

/** Symlinks followed while resolving one path before giving up, as Linux's MAXSYMLINKS. */
export const MAX_SYMLINKS = 40;

export function unsafeEntry(name: string, why: string): GraphDriverError {
  return new GraphDriverError(ErrorCode.UnsafeEntry, `unsafe archive entry ${JSON.stringify(name)}: ${why}`);
}

/**
 * Cleans an archive entry name into a path relative to the root: "" for the root itself,
 * otherwise "a/b/c" with no ".", "..", empty or trailing components. Leading "/" and "./"
 * are dropped (absolute names are relative to the root, as in Docker); a name that climbs
 * out of the root ("../x", "a/../../x") or contains NUL is refused with ERR_UNSAFE_ENTRY.
 */
export function cleanEntryName(name: string): string {
  if (name.includes('\0')) throw unsafeEntry(name, 'name contains NUL');
  let n = posix.normalize(name);
  // normalize resolves ".." against a leading "/" ("/../x" -> "/x"), as Go's filepath.Clean.
  let start = 0;
  while (start < n.length && n.charCodeAt(start) === 47 /* / */) start++;
  let end = n.length;
  while (end > start && n.charCodeAt(end - 1) === 47) end--;
  n = n.slice(start, end);
  if (n === '.' || n === '') return '';
  if (n === '..' || n.startsWith('../')) throw unsafeEntry(name, 'path leads outside the root');
  return n;
}

/**
 * Docker's link rule (moby pkg/archive createTarFile), the one every layer writer applies:
 * true when a symlink stored at `linkRel` (root-relative and cleaned, as cleanEntryName
 * returns; the link's own path, not its directory) with target `target` leads out of the
 * root. The target is resolved lexically from the link's directory and compared by whole
 * path segments (Docker compares string prefixes, so "../dest-evil" beside a root named
 * "dest" passes there; not here). A relative target that climbs above the root at any
 * point leads out, even if it would come back in ("../<root's own name>/x"), since it then
 * depends on where the layer is stored. Absolute targets are allowed, as in Docker: whoever
 * follows them resolves them inside the root (a container, the SafeRoot walk); one that
 * climbs above "/" ("/../victim", which Docker refuses from the top directory) leads out.
 * A hardlink's target names a path from the root: `linkLeavesRoot('', target)` is Docker's
 * hardlink check (a hardlink of a symlink is a symlink at the hardlink's name: check the
 * symlink's target against that name too).
 */
export function linkLeavesRoot(linkRel: string, target: string): boolean {
  let depth = 0; // segments of the directory the target starts from
  if (!target.startsWith('/')) for (let i = linkRel.indexOf('/'); i >= 0; i = linkRel.indexOf('/', i + 1)) depth++;
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    if (c !== '..') depth++;
    else if (--depth < 0) return true;
  }
  return false;
}

/** Refuses (ERR_UNSAFE_ENTRY, naming `entry`) a symlink at `linkRel` whose `target` leads out. */
export function assertLinkInside(entry: string, linkRel: string, target: string): void {
  if (linkLeavesRoot(linkRel, target)) {
    throw unsafeEntry(entry, `symlink target ${JSON.stringify(target)} leads outside the root`);
  }
}

/**
 * The rule's physical form, for links that stay inside only on paper: true when following
 * the symlink at `linkRel` (root-relative, its parents real directories) the way the host's
 * kernel would, through the symlinks now under `root`, climbs above the root. Each link
 * alone can be lexically inside and their sum lead out: `d1/d2/up -> ../..` (the root) and
 * `top -> d1/d2/up/..` (the root's parent). Absolute targets are allowed, as in
 * linkLeavesRoot; a missing component makes the rest lexical (it may be created later); a
 * loop or a non-directory ends the walk (the kernel fails there: nothing is reached).
 */
export function linkLeadsOutThroughLinks(root: string, linkRel: string, target: string): boolean {
  if (target.startsWith('/')) return false;
  let pending = target.split('/');
  let i = 0;
  let cur = splitRel(linkRel)[0];
  let real = true; // cur exists, a real directory
  let links = 0;
  while (i < pending.length) {
    const c = pending[i++];
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (cur === '') return true;
      cur = splitRel(cur)[0];
      continue;
    }
    const next = joinRel(cur, c);
    cur = next;
    if (!real) continue;
    const abs = `${root}/${next}`;
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) real = false;
    else if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return false;
      const t = fs.readlinkSync(abs);
      if (t.startsWith('/')) return false;
      cur = splitRel(next)[0];
      pending = [...t.split('/'), ...pending.slice(i)];
      i = 0;
    } else if (!st.isDirectory()) return false;
  }
  return false;
}

/** Splits a cleaned relative path into its parent ("" for top level) and last component. */
export function splitRel(rel: string): [parent: string, base: string] {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

/**
 * `parent/base` for the two spellings of a layer-relative path: "" is the root of cleaned
 * archive names ("etc" + "motd" = "etc/motd"), "/" the root of change paths ("/" + "etc").
 */
export function joinRel(parent: string, base: string): string {
  if (parent === '') return base;
  return parent === '/' ? `/${base}` : `${parent}/${base}`;
}

export interface ResolveOptions {
  /** Create missing directories (through `onMkdir`); otherwise a missing one yields null. */
  create: boolean;
  /** Entry name for error messages. */
  entry: string;
}

export class SafeRoot {
  /** Verified real directories, root-relative; invariant: a member's parent is a member. */
  private readonly dirs = new Set<string>(['']);

  /**
   * @param root absolute, symlink-free path of the root (the caller realpath()s it)
   * @param onMkdir called with the absolute path of every directory this object creates
   * @param beforeMkdir called with the root-relative path of each such directory before it is made
   */
  constructor(
    readonly root: string,
    private readonly onMkdir: (abs: string) => void = () => {},
    private readonly beforeMkdir: (rel: string) => void = () => {},
  ) {}

  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** True when `rel` was verified (or made) a real directory and not forgotten since. */
  isKnownDir(rel: string): boolean {
    return this.dirs.has(rel);
  }

  /** Records that `rel` is a real directory; its parent must already be known. */
  addDir(rel: string): void {
    this.dirs.add(rel);
  }

  /** Forgets `rel` and everything below it (call after removing or replacing it). */
  forget(rel: string): void {
    if (rel === '') {
      this.forgetBelow('');
      return;
    }
    if (!this.dirs.delete(rel)) return; // not known: nothing below it is known either
    this.forgetBelow(rel);
  }

  /** Forgets everything strictly below `rel`. */
  forgetBelow(rel: string): void {
    if (rel === '') {
      this.dirs.clear();
      this.dirs.add('');
      return;
    }
    const prefix = `${rel}/`;
    for (const d of this.dirs) if (d.startsWith(prefix)) this.dirs.delete(d);
  }

  /**
   * Resolves the directory path `rel` (root-relative, cleaned) to the root-relative path of
   * the real directory it designates, following symlinks as if chrooted into the root.
   * Throws ERR_UNSAFE_ENTRY when that would leave the root or loop, ERR_INVALID_ARCHIVE when
   * a component is not a directory. With `create: false` a missing component yields null.
   */
  resolveDir(rel: string, o: ResolveOptions): string | null {
    if (this.dirs.has(rel)) return rel;
    let pending = rel === '' ? [] : rel.split('/');
    let i = 0;
    let cur = '';
    let links = 0;
    while (i < pending.length) {
      const c = pending[i++];
      if (c === '' || c === '.') continue;
      if (c === '..') {
        // Only symlink targets bring ".." here (names are cleaned); cur is a real dir.
        if (cur === '') throw unsafeEntry(o.entry, 'a symlink on its path leads outside the root');
        cur = splitRel(cur)[0];
        continue;
      }
      const next = joinRel(cur, c);
      if (this.dirs.has(next)) {
        cur = next;
        continue;
      }
      const abs = this.abs(next);
      const st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined) {
        if (!o.create) return null;
        this.beforeMkdir(next);
        fs.mkdirSync(abs, 0o755);
        this.onMkdir(abs);
        this.dirs.add(next);
        cur = next;
      } else if (st.isDirectory()) {
        this.dirs.add(next);
        cur = next;
      } else if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw unsafeEntry(o.entry, 'too many levels of symbolic links');
        const target = fs.readlinkSync(abs);
        if (target === '') {
          if (!o.create) return null;
          throw new GraphDriverError(ErrorCode.InvalidArchive, `${o.entry}: ${next} is an empty symlink`);
        }
        if (target.startsWith('/')) cur = '';
        pending = [...target.split('/'), ...pending.slice(i)];
        i = 0;
      } else {
        if (!o.create) return null;
        throw new GraphDriverError(
          ErrorCode.InvalidArchive,
          `archive entry ${JSON.stringify(o.entry)}: ${JSON.stringify(next)} is not a directory`,
        );
      }
    }
    return cur;
  }

  /**
   * True when every component of `rel` is a real directory (no symlink followed at all);
   * learns the ones it checks. For re-validating a path recorded earlier in the run.
   */
  isRealDir(rel: string): boolean {
    if (this.dirs.has(rel)) return true;
    const [parent] = splitRel(rel);
    if (!this.isRealDir(parent)) return false;
    const st = fs.lstatSync(this.abs(rel), { throwIfNoEntry: false });
    if (!st?.isDirectory()) return false;
    this.dirs.add(rel);
    return true;
  }
}
