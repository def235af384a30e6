// Layer tarballs, as Docker writes them: ExportChanges (a diff against a parent) and
// Tar(dir, Uncompressed) (a whole tree, Diff(id, "")). Headers follow Docker's addTarFile
// (pkg/archive/archive.go); the byte encoding is src/tar/writer.ts's, with plain ustar
// headers written in place by tar/header-fast.ts (same bytes, checked by the tests).
//
// This module plans the entries (what Docker's addTarFile puts in each header, and which
// file's data follows); tar-assembler.ts turns them into bytes and tar-output.ts delivers
// them, as a Readable or straight into a file.
import { chmodSync, lstatSync, openSync, readlinkSync, constants as fsConstants } from 'node:fs';
import type { Readable } from 'node:stream';
import { ChangeKind, type Change } from '../driver.js';
import { ErrorCode, GraphDriverError } from '../errors.js';
import { xattrBinding, type Binding } from '../fs/xattr.js';
import { ClosedDirs, realMode } from '../fs/closed-dirs.js';
import { lstatQuiet, type FileStat } from '../fs/lstat.js';
import type { EntryType, TarHeader } from '../tar/types.js';
import { hostNameLookup, type NameLookup } from './owners.js';
import type { PlanSource, Planned } from './tar-assembler.js';
import { tarReadable, writeTarTo } from './tar-output.js';
import {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  assertNamesDecodable,
  devMajor,
  devMinor,
  floorSeconds,
  sortByPath,
  sortBytewise,
} from './walk-util.js';
import { isErrno } from '../linux/errno.js';

const WHITEOUT_PREFIX = '.wh.';
const CAPABILITY = 'security.capability';
// O_NONBLOCK: a file swapped for a FIFO after its lstat must not hang the open.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/** What addTarFile needs to know across entries. */
interface AppendContext {
  names: NameLookup;
  /** inode -> archive name of the first entry seen with it (for TypeLink). */
  seen: Map<bigint, string>;
  /** Attributes left out of the archive (see ExportOptions). */
  skipXattr?: (name: string) => boolean;
  /** Seconds since the epoch for whiteout entries (see ExportOptions). */
  whiteoutTime?: number;
  /** Closed directories the walk opened, closed again when the plan ends. */
  closed: ClosedDirs;
}

/** What {@link exportChanges} and {@link tarDirectory} leave out of the tar. */
export interface ExportOptions {
  /**
   * Extended attributes not to archive: a driver that reads a layer's storage rather than
   * its mounted view leaves out the attributes the mount would hide (overlay's
   * trusted.overlay.*), so that the archive is the one the mounted view gives.
   */
  skipXattr?: (name: string) => boolean;
  /**
   * Seconds since the epoch for whiteout entries, which have no file to take a time from.
   * A layer store passes the layer's creation time (or SOURCE_DATE_EPOCH, for an export);
   * without it, a whiteout takes the mtime of the directory the deletion changed.
   */
  whiteoutTime?: number;
}

function entryType(mode: number): EntryType | null {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
      return 'char';
    case S_IFBLK:
      return 'block';
    case S_IFIFO:
      return 'fifo';
    default:
      return null; // sockets (and anything unknown): Go's FileInfoHeader refuses them
  }
}

let xattr: Binding | undefined;

/**
 * All extended attributes of `path` (not following symlinks), names sorted. Docker 20.10
 * only archives security.capability; we keep every attribute so nothing is lost, and give
 * security.capability Docker's exact bytes (a v3 capability, which names a namespace
 * root uid, is rewritten as v2, 20 bytes).
 */
function readXattrs(path: string, skip: ((name: string) => boolean) | undefined): Map<string, Buffer> | undefined {
  const b = xattr ?? (xattr = xattrBinding()); // (outside the try: a missing binding is an error)
  let names: string[];
  try {
    names = b.listAttributesSync(path);
  } catch {
    return undefined; // ENOTSUP and friends: no attributes
  }
  if (names.length === 0) return undefined;
  sortBytewise(names);
  let out: Map<string, Buffer> | undefined;
  for (const name of names) {
    if (skip?.(name)) continue;
    let value: Buffer | null;
    try {
      value = b.getAttributeSync(path, name);
    } catch {
      continue;
    }
    if (value === null) continue;
    if (name === CAPABILITY) value = dockerCapability(value);
    (out ??= new Map()).set(name, value);
  }
  return out;
}

/** Docker's ReadSecurityXattrToTarHeader: VFS_CAP_REVISION_3 -> _2, cut to 20 bytes. */
function dockerCapability(value: Buffer): Buffer {
  const VERSION_OFFSET = 3;
  const XATTR_CAPS_SZ_2 = 20;
  if (value.length > VERSION_OFFSET && value[VERSION_OFFSET] === 3) {
    const v = Buffer.from(value.subarray(0, Math.min(XATTR_CAPS_SZ_2, value.length)));
    v[VERSION_OFFSET] = 2;
    return v;
  }
  return value;
}

/**
 * Docker's addTarFile: the entry for `path` (whose lstat is `st`), archived as `name`
 * (relative, no leading "/"). Returns null when the path vanished (skipped, as Docker logs
 * and skips) or is a socket.
 */
function planEntry(path: string, name: string, ctx: AppendContext, st: FileStat): Planned | null {
  const mode = realMode(path, Number(st.mode)); // a directory another walk opened: its own bits
  const type = entryType(mode);
  if (type === null) return null;
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const header: TarHeader = {
    name: type === 'directory' && !name.endsWith('/') ? name + '/' : name,
    type,
    // st_mode whole: Docker's FileInfoHeader keeps the file-type bits (0100644, 040755...),
    // and so does our encoder here (fileTypeBits). A hardlink keeps its inode's bits too.
    mode,
    uid,
    gid,
    uname: ctx.names.user(uid),
    gname: ctx.names.group(gid),
    size: 0,
    mtime: floorSeconds(st.mtimeNs),
  };
  if (type === 'symlink') {
    try {
      header.linkname = readlinkSync(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EINVAL')) return null;
      throw err;
    }
  } else if (type === 'char' || type === 'block') {
    header.devmajor = devMajor(st.rdev);
    header.devminor = devMinor(st.rdev);
  }
  const xattrs = readXattrs(path, ctx.skipXattr);
  if (xattrs) header.xattrs = xattrs;

  if (type !== 'directory' && st.nlink > 1n) {
    const first = ctx.seen.get(st.ino);
    if (first !== undefined) {
      header.type = 'hardlink';
      header.linkname = first;
      return { header };
    }
    ctx.seen.set(st.ino, header.name);
  }
  if (type === 'file' && st.size > 0n) {
    // Open before the header is written: a file that vanished is skipped whole rather
    // than leaving a header without its data.
    let fd: number;
    try {
      fd = openFile(path, st);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO')) {
        if (st.nlink > 1n && ctx.seen.get(st.ino) === header.name) ctx.seen.delete(st.ino);
        return null;
      }
      throw err;
    }
    header.size = Number(st.size);
    return { header, bodyPath: path, fd };
  }
  return { header };
}

const myUid = process.getuid?.() ?? 0;

/**
 * Opens a file for its data. One its owner cannot read (mode 0222 or 0000 in a rootless store;
 * root reads it anyway) is given u+r for the open alone, then its exact mode back: the open
 * descriptor stays readable.
 */
function openFile(path: string, st: FileStat): number {
  try {
    return openSync(path, OPEN_FLAGS);
  } catch (err) {
    if (!isErrno(err, 'EACCES') || myUid === 0 || st.uid !== BigInt(myUid) || (st.mode & 0o400n) !== 0n) throw err;
  }
  const mode = Number(st.mode & 0o7777n);
  chmodSync(path, mode | 0o400);
  try {
    return openSync(path, OPEN_FLAGS);
  } finally {
    chmodSync(path, mode);
  }
}

/** lstatQuiet, with a path under a non-directory (ENOTDIR) also null. */
function lstatOrNull(path: string): FileStat | null {
  try {
    return lstatQuiet(path) ?? null;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
    throw err;
  }
}

function trimDir(dir: string): string {
  return dir.length > 1 && dir.endsWith('/') ? dir.replace(/\/+$/, '') || '/' : dir;
}

/** Entries of ExportChanges: changes by path; Deletes as `.wh.` whiteout files. */
class ExportPlan implements PlanSource {
  private readonly root: string;
  private readonly sorted: Change[];
  private i = 0;

  constructor(
    dir: string,
    changes: readonly Change[],
    private readonly ctx: AppendContext,
  ) {
    this.root = trimDir(dir);
    this.sorted = sortByPath([...changes]);
  }

  next(): Planned | null | undefined {
    if (this.i >= this.sorted.length) return undefined;
    const change = this.sorted[this.i++];
    const p = change.path.startsWith('/') ? change.path : '/' + change.path;
    // Paths come from changesDirs; anything that could leave `dir` is refused outright.
    if (p.includes('\0') || /(^|\/)\.\.?(\/|$)/.test(p)) {
      throw new GraphDriverError(ErrorCode.UnsafeEntry, `exportChanges: invalid change path ${JSON.stringify(change.path)}`);
    }
    if (change.kind === ChangeKind.Delete) {
      const slash = p.lastIndexOf('/');
      const name = p.slice(1, slash + 1) + WHITEOUT_PREFIX + p.slice(slash + 1);
      // Docker writes whiteouts with only a name and a time (mode, owners and everything
      // else zero). Docker's time is that of the export; ours is the caller's whiteoutTime
      // (the layer's creation time), else the mtime of the directory the deletion changed,
      // so the same layer always gives the same tar (reproducible image exports). Appliers
      // never use a whiteout's time.
      return { header: { name, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: this.whiteoutTime(p, slash) } };
    }
    if (p === '/') return null; // Docker would archive "" here; no valid change names the root
    const path = this.root === '/' ? p : this.root + p;
    let st: FileStat | null;
    try {
      st = lstatOrNull(path);
    } catch (err) {
      // inside a closed directory of ours: open the way down (put back when the plan closes)
      if (!this.ctx.closed.openWayTo(path, false, err)) throw err;
      st = lstatOrNull(path);
    }
    return st === null ? null : planEntry(path, p.slice(1), this.ctx, st);
  }

  close(): void {
    this.ctx.closed.restore();
  }

  private whiteoutTime(p: string, slash: number): number {
    if (this.ctx.whiteoutTime !== undefined) return this.ctx.whiteoutTime;
    const parent = lstatOrNull(this.root === '/' ? p.slice(0, slash) || '/' : this.root + p.slice(0, slash));
    return parent ? floorSeconds(parent.mtimeNs) : 0;
  }
}

/** A directory being listed by TreePlan. */
interface Frame {
  /** Archive name of the directory with a trailing "/", "" for the root. */
  rel: string;
  /** Its absolute path with a trailing "/". */
  abs: string;
  names: string[];
  i: number;
}

/** Entries of Docker's Tar(dir): filepath.Walk order (pre-order, names byte-sorted), root left out. */
class TreePlan implements PlanSource {
  private readonly stack: Frame[] = [];
  private started = false;

  constructor(
    private readonly dir: string,
    private readonly ctx: AppendContext,
  ) {}

  /** The first step, on the first read: errors about the root then fail the stream. */
  private start(): Planned | null | undefined {
    this.started = true;
    const root = trimDir(this.dir);
    const st = lstatSync(root, { bigint: true });
    if (!st.isDirectory()) {
      // Docker archives a lone file under its base name.
      return planEntry(root, root.slice(root.lastIndexOf('/') + 1), this.ctx, st);
    }
    this.push('', root === '/' ? '/' : root + '/', st);
    return null;
  }

  private push(rel: string, abs: string, st: FileStat): void {
    let names: string[];
    try {
      names = this.ctx.closed.names(abs, st);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return; // vanished meanwhile: Docker logs and goes on
      throw err;
    }
    assertNamesDecodable(abs, names);
    sortBytewise(names);
    this.stack.push({ rel, abs, names, i: 0 });
  }

  close(): void {
    this.ctx.closed.restore();
  }

  next(): Planned | null | undefined {
    if (!this.started) return this.start();
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) return undefined;
      if (top.i >= top.names.length) {
        this.stack.pop();
        continue;
      }
      const name = top.names[top.i++];
      const path = top.abs + name;
      // lstatOrNull, written out: one wrapper less for V8 to compile (see changes.ts).
      let st: FileStat | undefined;
      try {
        st = lstatQuiet(path);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
        throw err;
      }
      if (st === undefined) return null;
      const rel = top.rel + name;
      const planned = planEntry(path, rel, this.ctx, st);
      if ((Number(st.mode) & S_IFMT) === S_IFDIR) this.push(rel + '/', path + '/', st);
      return planned;
    }
  }
}

function newContext(opts: ExportOptions = {}): AppendContext {
  return {
    names: hostNameLookup(),
    seen: new Map(),
    closed: new ClosedDirs(),
    skipXattr: opts.skipXattr,
    whiteoutTime: opts.whiteoutTime === undefined ? undefined : Math.floor(opts.whiteoutTime),
  };
}

/**
 * Docker's ExportChanges: the layer tar of `changes` read from `dir`. Changes are written
 * in path order; a Delete becomes an empty `.wh.<name>` file in its directory; other paths
 * are archived as Docker's addTarFile does (numeric and named owners, whole-second mtimes,
 * xattrs, hardlinks to the first archived path of an inode).
 */
export function exportChanges(dir: string, changes: Change[], opts?: ExportOptions): Readable {
  return tarReadable(new ExportPlan(dir, changes, newContext(opts)));
}

/**
 * Docker's Tar(dir, Uncompressed), which Diff(id, "") returns: every entry under `dir` in
 * filepath.Walk order, named relative to it ("etc/", "etc/passwd"); `dir` itself has no
 * entry, as in Docker.
 */
export function tarDirectory(dir: string): Readable {
  return tarReadable(new TreePlan(dir, newContext()));
}

/**
 * exportChanges written straight into a file: `dest` is a path or a descriptor open for
 * writing (written from its current offset and left open). A path is replaced whole when
 * the archive is complete, never left half-written (see writeTarTo). Resolves to the
 * archive's size in bytes. Faster than piping exportChanges into a file stream: the output
 * buffers are reused instead of allocated for every megabyte.
 */
export function exportChangesToFile(dir: string, changes: Change[], dest: string | number, opts?: ExportOptions): Promise<number> {
  return writeTarTo(() => new ExportPlan(dir, changes, newContext(opts)), dest);
}

/** tarDirectory written straight into a file, as exportChangesToFile. */
export function tarDirectoryToFile(dir: string, dest: string | number): Promise<number> {
  return writeTarTo(() => new TreePlan(dir, newContext()), dest);
}
