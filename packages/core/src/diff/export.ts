// Layer tarballs, as Docker writes them: ExportChanges (a diff against a parent) and
// Tar(dir, Uncompressed) (a whole tree, Diff(id, "")). Headers follow Docker's addTarFile
// (pkg/archive/archive.go); the byte encoding is src/tar/writer.ts's, with plain ustar
// headers written in place by header-fast.ts (same bytes, checked by the tests).
//
// Performance: the archive is assembled inside Readable._read into 1 MiB output chunks.
// Header blocks are encoded straight into the chunk and file contents are read straight
// into it, so nothing is copied twice and each chunk is one big write downstream. Small
// files are read synchronously (cheaper than a trip through the thread pool); big ones are
// read by the libuv thread pool while this thread goes on with the next entries. Production
// stops when the stream's buffer is full or too many chunks wait for reads (backpressure),
// so memory stays bounded whatever the file sizes.
import {
  closeSync,
  lstatSync,
  openSync,
  read,
  readSync,
  readdirSync,
  readlinkSync,
  constants as fsConstants,
  type BigIntStats,
} from 'node:fs';
import { Readable } from 'node:stream';
import { ChangeKind, type Change } from '../driver.js';
import { ErrorCode, GraphDriverError } from '../errors.js';
import { xattrBinding, type Binding } from '../fs/xattr.js';
import type { EntryType, TarHeader } from '../tar/types.js';
import { encodeHeader } from '../tar/writer.js';
import { UstarCache, encodeUstarInto } from './header-fast.js';
import { hostNameLookup, type NameLookup } from './owners.js';
import { LSTAT_QUIET, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, assertNamesDecodable, devMajor, devMinor, floorSeconds, isErrno, sortByPath, sortBytewise } from './walk-util.js';

/** Headers as Docker writes them: the mode field keeps st_mode's file-type bits. */
const ENCODE_OPTIONS = { fileTypeBits: true } as const;

/** Size of the buffers pushed downstream. */
const CHUNK_SIZE = 1 << 20;
/** Chunks in hand at most (being filled, or waiting for thread-pool reads). */
const MAX_CHUNKS = 8;
/** Bodies at least this big are read by the thread pool, in parallel with the walk. */
const ASYNC_MIN = 64 << 10;
const BLOCK = 512;
const WHITEOUT_PREFIX = '.wh.';
const CAPABILITY = 'security.capability';
// O_NONBLOCK: a file swapped for a FIFO after its lstat must not hang the open.
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/** One entry to write: its header and, for regular files with data, where to read it. */
interface Planned {
  header: TarHeader;
  /** Absolute path of the file whose `header.size` bytes follow the header. */
  bodyPath?: string;
  /** Already-open descriptor of bodyPath. */
  fd?: number;
}

/** What addTarFile needs to know across entries. */
interface AppendContext {
  names: NameLookup;
  /** inode -> archive name of the first entry seen with it (for TypeLink). */
  seen: Map<bigint, string>;
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
function readXattrs(path: string): Map<string, Buffer> | undefined {
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
function planEntry(path: string, name: string, ctx: AppendContext, st: BigIntStats): Planned | null {
  const mode = Number(st.mode);
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
  const xattrs = readXattrs(path);
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
      fd = openSync(path, OPEN_FLAGS);
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

function lstatQuiet(path: string): BigIntStats | null {
  try {
    return lstatSync(path, LSTAT_QUIET) ?? null;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
    throw err;
  }
}

function trimDir(dir: string): string {
  return dir.length > 1 && dir.endsWith('/') ? dir.replace(/\/+$/, '') || '/' : dir;
}

/**
 * Where the producer gets its entries from, one at a time: a planned entry, null for a
 * path to pass over, or undefined at the end. (Plain objects rather than generators: this
 * runs once per file, and nested generators cost a frame per directory level per entry.)
 */
interface PlanSource {
  next(): Planned | null | undefined;
}

/** Entries of ExportChanges: changes by path; Deletes as `.wh.` whiteout files. */
class ExportPlan implements PlanSource {
  private readonly root: string;
  private readonly sorted: Change[];
  private i = 0;

  constructor(dir: string, changes: readonly Change[], private readonly ctx: AppendContext) {
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
      // else zero). Go's tar writer rounds that time to the nearest second, which can put it
      // up to half a second in the future (GNU tar then warns on extraction); we round down.
      return { header: { name, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: Math.floor(Date.now() / 1000) } };
    }
    if (p === '/') return null; // Docker would archive "" here; no valid change names the root
    const path = this.root === '/' ? p : this.root + p;
    const st = lstatQuiet(path);
    return st === null ? null : planEntry(path, p.slice(1), this.ctx, st);
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

  constructor(private readonly dir: string, private readonly ctx: AppendContext) {}

  /** The first step, on the first read: errors about the root then fail the stream. */
  private start(): Planned | null | undefined {
    this.started = true;
    const root = trimDir(this.dir);
    const st = lstatSync(root, { bigint: true });
    if (!st.isDirectory()) {
      // Docker archives a lone file under its base name.
      return planEntry(root, root.slice(root.lastIndexOf('/') + 1), this.ctx, st);
    }
    this.push('', root === '/' ? '/' : root + '/');
    return null;
  }

  private push(rel: string, abs: string): void {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return; // vanished meanwhile: Docker logs and goes on
      throw err;
    }
    assertNamesDecodable(abs, names);
    sortBytewise(names);
    this.stack.push({ rel, abs, names, i: 0 });
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
      // lstatQuiet, written out: one wrapper less for V8 to compile (see changes.ts).
      let st: BigIntStats | undefined;
      try {
        st = lstatSync(path, LSTAT_QUIET);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
        throw err;
      }
      if (st === undefined) return null;
      const rel = top.rel + name;
      const planned = planEntry(path, rel, this.ctx, st);
      if ((Number(st.mode) & S_IFMT) === S_IFDIR) this.push(rel + '/', path + '/');
      return planned;
    }
  }
}

/** One output buffer: filled in order, pushed once every read into it has landed. */
interface Chunk {
  buf: Buffer;
  used: number;
  /** Asynchronous reads still writing into buf. */
  pending: number;
}

/** A file body being copied: the descriptor is closed when the last read into it is done. */
interface Body {
  fd: number;
  path: string;
  size: number;
  /** Next byte to schedule. */
  pos: number;
  /** Reads scheduled but not finished. */
  inflight: number;
  /** All bytes scheduled. */
  scheduled: boolean;
  closed: boolean;
}

/**
 * A Readable that writes planned entries as tar: headers (plain ustar ones encoded in
 * place), bodies, padding, then the two zero blocks ending the archive.
 *
 * Small files are read synchronously into the current chunk. Bodies of ASYNC_MIN bytes or
 * more are read by the libuv thread pool straight into their place in the chunks, while
 * this thread goes on with the next entries' metadata: chunks are pushed in order as their
 * reads complete. At most MAX_CHUNKS chunks are in hand (being filled or waiting for reads)
 * and production pauses whenever the stream's buffer is full, so memory stays bounded
 * whatever the file sizes.
 */
class TarProducer extends Readable {
  private readonly plan: PlanSource;
  /** Chunks not yet pushed, oldest first; the last one is being filled. */
  private readonly chunks: Chunk[] = [];
  private body: Body | null = null;
  private padLeft = 0;
  private planDone = false;
  private ended = false;
  /** Downstream wants data (set by _read, cleared when push() says stop). */
  private wanted = false;
  private producing = false;
  private failed = false;
  private readonly openBodies = new Set<Body>();
  private readonly headerCache = new UstarCache();

  constructor(plan: PlanSource) {
    super({ highWaterMark: 2 * CHUNK_SIZE });
    this.plan = plan;
  }

  /** The chunk being filled, with room for at least one byte. */
  private current(): Chunk {
    let c = this.chunks.length > 0 ? this.chunks[this.chunks.length - 1] : undefined;
    if (c === undefined || c.used === CHUNK_SIZE) {
      // Zeroed memory (calloc: fresh pages cost nothing to clear), so padding and the
      // end-of-archive blocks need no clearing of their own.
      c = { buf: Buffer.alloc(CHUNK_SIZE), used: 0, pending: 0 };
      this.chunks.push(c);
    }
    return c;
  }

  /** Pushes the finished chunks at the head of the queue, in order. */
  private pushReady(): void {
    while (this.chunks.length > 0) {
      const c = this.chunks[0];
      if (c.pending > 0) return;
      const last = this.chunks.length === 1;
      if (c.used < CHUNK_SIZE && !(last && this.planDone && this.body === null && this.padLeft === 0)) return;
      this.chunks.shift();
      if (c.used > 0 && !this.push(c.used === CHUNK_SIZE ? c.buf : c.buf.subarray(0, c.used))) this.wanted = false;
    }
    if (this.planDone && !this.ended && this.chunks.length === 0 && this.body === null && this.openBodies.size === 0) {
      this.ended = true;
      this.push(null);
    }
  }

  private copyIn(b: Buffer): void {
    let off = 0;
    while (off < b.length) {
      const c = this.current();
      const n = Math.min(CHUNK_SIZE - c.used, b.length - off);
      b.copy(c.buf, c.used, off, off + n);
      c.used += n;
      off += n;
    }
  }

  /** Skips `n` bytes of the (zeroed) chunks: padding and the end-of-archive blocks. */
  private zeros(n: number): void {
    while (n > 0) {
      const c = this.current();
      const k = Math.min(CHUNK_SIZE - c.used, n);
      c.used += k;
      n -= k;
    }
  }

  /** Writes the header blocks of `h`: straight into the chunk when plain ustar will do. */
  private putHeader(h: TarHeader): void {
    const c = this.current();
    // Everything written is whole blocks, so a chunk with room has room for a block.
    if (encodeUstarInto(h, c.buf, c.used, true, this.headerCache)) c.used += BLOCK;
    else this.copyIn(encodeHeader(h, ENCODE_OPTIONS));
  }

  /** Reads a small body synchronously into the chunks, and closes its descriptor. */
  private readSmall(fd: number, size: number): void {
    try {
      let pos = 0;
      while (pos < size) {
        const c = this.current();
        const want = Math.min(CHUNK_SIZE - c.used, size - pos);
        let n = readSync(fd, c.buf, c.used, want, pos);
        if (n === 0) {
          // The file shrank after its header was written: pad with zeros so the archive
          // stays well-formed (readers go by the header's size).
          c.buf.fill(0, c.used, c.used + want);
          n = want;
        }
        c.used += n;
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Schedules thread-pool reads for the next part of a large body; false when out of chunk budget. */
  private scheduleLarge(body: Body): boolean {
    while (body.pos < body.size) {
      if (this.chunks.length >= MAX_CHUNKS && this.chunks[this.chunks.length - 1].used === CHUNK_SIZE) return false;
      const c = this.current();
      const want = Math.min(CHUNK_SIZE - c.used, body.size - body.pos);
      this.readInto(body, c, c.used, want, body.pos);
      c.used += want;
      body.pos += want;
    }
    body.scheduled = true;
    return true;
  }

  private readInto(body: Body, c: Chunk, off: number, len: number, pos: number): void {
    c.pending++;
    body.inflight++;
    read(body.fd, c.buf, off, len, pos, (err, n) => {
      if (this.failed) {
        // Torn down meanwhile: the descriptor is ours to close once no read uses it.
        if (--body.inflight === 0) this.closeBody(body);
        return;
      }
      if (err) {
        this.fail(Object.assign(err, { path: body.path }));
        return;
      }
      if (n === 0) {
        c.buf.fill(0, off, off + len); // shrank meanwhile: zeros, as above
      } else if (n < len) {
        body.inflight--;
        c.pending--;
        this.readInto(body, c, off + n, len - n, pos + n);
        return;
      }
      body.inflight--;
      c.pending--;
      if (body.scheduled && body.inflight === 0) this.closeBody(body);
      this.pushReady();
      if (this.wanted) this.produce();
    });
  }

  private closeBody(body: Body): void {
    if (body.closed) return;
    body.closed = true;
    this.openBodies.delete(body);
    closeSync(body.fd);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.destroy(err);
  }

  override _read(): void {
    this.wanted = true;
    this.produce();
  }

  private produce(): void {
    if (this.producing || this.failed) return;
    this.producing = true;
    try {
      this.produceLoop();
      this.pushReady();
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.producing = false;
    }
  }

  private produceLoop(): void {
    while (this.wanted && !this.planDone) {
      if (this.body !== null) {
        const body = this.body;
        if (!this.scheduleLarge(body)) {
          // Out of chunks: wait for reads to land (their callbacks call produce again).
          this.pushReady();
          if (this.chunks.length >= MAX_CHUNKS) return;
          continue;
        }
        this.body = null;
        if (body.inflight === 0) this.closeBody(body);
      }
      if (this.padLeft > 0) {
        this.zeros(this.padLeft);
        this.padLeft = 0;
      }
      if (this.chunks.length > 1) {
        this.pushReady();
        if (!this.wanted || this.chunks.length >= MAX_CHUNKS) return;
      }
      const item = this.plan.next();
      if (item === undefined) {
        this.zeros(2 * BLOCK); // end of archive
        this.planDone = true;
        return;
      }
      if (item === null) continue;
      if (item.fd === undefined) {
        this.putHeader(item.header);
        continue;
      }
      try {
        this.putHeader(item.header);
      } catch (err) {
        closeSync(item.fd);
        throw err;
      }
      const size = item.header.size;
      const rem = size % BLOCK;
      this.padLeft = rem === 0 ? 0 : BLOCK - rem;
      if (size < ASYNC_MIN) {
        this.readSmall(item.fd, size);
        continue;
      }
      const body: Body = { fd: item.fd, path: item.bodyPath ?? '', size, pos: 0, inflight: 0, scheduled: false, closed: false };
      this.openBodies.add(body);
      this.body = body;
    }
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.failed = true;
    // Descriptors with no read in flight are closed now; the others by the last read's
    // callback (closing under a running read could hand its number to another open).
    for (const b of [...this.openBodies]) {
      if (b.inflight > 0) continue;
      try {
        this.closeBody(b);
      } catch {
        // ignore: tearing down
      }
    }
    cb(err);
  }
}

/**
 * Docker's ExportChanges: the layer tar of `changes` read from `dir`. Changes are written
 * in path order; a Delete becomes an empty `.wh.<name>` file in its directory; other paths
 * are archived as Docker's addTarFile does (numeric and named owners, whole-second mtimes,
 * xattrs, hardlinks to the first archived path of an inode).
 */
export function exportChanges(dir: string, changes: Change[]): Readable {
  const ctx: AppendContext = { names: hostNameLookup(), seen: new Map() };
  return new TarProducer(new ExportPlan(dir, changes, ctx));
}

/**
 * Docker's Tar(dir, Uncompressed), which Diff(id, "") returns: every entry under `dir` in
 * filepath.Walk order, named relative to it ("etc/", "etc/passwd"); `dir` itself has no
 * entry, as in Docker.
 */
export function tarDirectory(dir: string): Readable {
  const ctx: AppendContext = { names: hostNameLookup(), seen: new Map() };
  return new TarProducer(new TreePlan(dir, ctx));
}
