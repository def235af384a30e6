// applyLayer: unpack a Docker layer tarball into a directory, as moby's UnpackLayer
// (ApplyUncompressedLayer) does: whiteouts (.wh.<name>, .wh..wh..opq, aufs .wh..wh.plnk
// hardlink sources), replace-unless-(dir, dir), lchown (id-mapped), xattrs, chmod, times
// (directories' at the end), and the sum of the entries' sizes as the result.
//
// Safety model (the archive is hostile, the local process is not):
// - Names are cleaned lexically (fs/safe-path.ts): leading "/" and "./" dropped, a name that
//   climbs out with ".." or holds NUL is refused (ERR_UNSAFE_ENTRY). Hardlink targets too.
// - Nothing is ever addressed by a path the kernel could resolve through a symlink we did
//   not check. Each parent path is walked component by component with lstat inside the
//   root (SafeRoot); a symlink met on the way is resolved as if chrooted into the root
//   (absolute targets start at the root) and refused when it climbs above the root. The
//   result is a path made only of verified real directories, which is what every syscall
//   then receives. Verified directories are cached and forgotten when removed/replaced.
// - The last component is never followed: files are created O_CREAT|O_EXCL|O_NOFOLLOW,
//   dirs/symlinks/links/nodes with calls that fail on any existing name; on EEXIST the
//   old object is lstat'ed and removed (rm -rf does not follow links) and creation retried.
//   Whiteouts remove the named object itself, never what it points to; an opaque whiteout
//   in a directory that is a symlink does nothing (as Docker's Lstat + Walk).
// - No link may lead out of the layer (Docker's createTarFile rule, fs/safe-path.ts
//   linkLeavesRoot): a symlink whose target, resolved lexically from its directory, climbs
//   above the root is refused (absolute targets are allowed: they resolve inside the root);
//   hardlinks must name an existing non-directory inside the root, and a hardlink of a
//   symlink (which links the symlink itself) is refused when that symlink would lead out
//   from the hardlink's directory. Once every entry is in, each relative link made is
//   followed again through the links now in the tree (linkLeadsOutThroughLinks): links
//   each inside on paper can lead out together (`d1/d2/up -> ../..`, `top -> d1/d2/up/..`).
// - A refused or failed archive is rolled back (apply-undo.ts): dest ends as it began.
// - Every filesystem call is synchronous or awaited in entry order, so no other operation
//   of this run can change the tree between a check and its use. Directory times and
//   deferred modes are applied at the end only to paths that are still real directories.
// - aufs hardlink sources are stashed in a private mkdtemp dir under os.tmpdir() (as
//   Docker does), removed when the call ends; nothing else is written outside dest.
//
// Performance: filesystem calls are synchronous (a few µs each, no threadpool round
// trip), a small file costs open/write/fchown/futimes/close (+fchmod only when umask or
// set-id bits require it), verified parent directories are cached so common entries need
// no lstat at all, and files over 1 MiB are written chunk by chunk as the data comes, each
// chunk before the next is asked for (backpressure, flat memory). Entries the tar reader
// already holds whole (header and data in the current source chunk) are applied without a
// promise each (forEachTarEntry, Applier.apply): in a fresh process the per-entry awaits,
// and V8 compiling the async code around them, cost more user CPU than the syscalls.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ApplyProgress, IdMap, IdMappings } from '../driver.js';
import { ErrorCode, GraphDriverError, asStorageError, errInvalidOption, errnoCode, isGraphDriverError } from '../errors.js';
import { directSource } from '../fs/direct-source.js';
import { makeDirs } from '../fs/make-dirs.js';
import { mknod, mknodErrno } from '../fs/mknod.js';
import {
  SafeRoot,
  assertLinkInside,
  cleanEntryName,
  joinRel,
  linkLeadsOutThroughLinks,
  linkLeavesRoot,
  splitRel,
  unsafeEntry,
} from '../fs/safe-path.js';
import { lsetxattrSync, xattrBinding, type Binding } from '../fs/xattr.js';
import { forEachTarEntry } from '../tar/reader.js';
import type { TarEntry, TarHeader } from '../tar/types.js';
import { ApplyUndo } from './apply-undo.js';

export type { ApplyProgress } from '../driver.js';

/** How {@link applyLayer} unpacks a layer. */
export interface ApplyOptions {
  /** Container -> host id mapping for owners (Docker's UIDMaps/GIDMaps). */
  idMappings?: IdMappings;
  /**
   * Tolerate EPERM/EINVAL from chown (rootless use); also skips char/block devices when not
   * running as root, or when the kernel refuses them (user namespaces), as Docker does.
   */
  ignoreChownErrors?: boolean;
  /** Called after every entry with running totals; the last call matches the result. */
  onProgress?: (p: ApplyProgress) => void;
  /**
   * What whiteouts do (moby's TarOptions.WhiteoutFormat). 'remove' (default): delete what
   * they name in `dest`. 'overlay': `dest` is an overlay upper dir, and they are written the
   * way overlayfs reads them: `.wh.NAME` becomes a 0/0 character device NAME, and
   * `.wh..wh..opq` sets trusted.overlay.opaque=y on its directory. 'overlay-files': the same
   * for fuse-overlayfs run by a plain user, who cannot make devices: `.wh.NAME` and
   * `.wh..wh..opq` are kept as the empty files they are, which fuse-overlayfs honours.
   * Whatever the format, what this layer held under a whiteout's name is deleted first.
   */
  whiteoutFormat?: WhiteoutFormat;
  /**
   * For the overlay forms: whether the layers below `dest` show something at `rel` (a path
   * relative to dest). Where they do not, a whiteout would hide nothing and is not written
   * (overlayfs lists a whiteout in a directory with nothing below it as an entry).
   */
  whiteoutNeeded?: (rel: string) => boolean;
}

/** How whiteouts are stored; see {@link ApplyOptions.whiteoutFormat}. */
export type WhiteoutFormat = 'remove' | 'overlay' | 'overlay-files';

/** The xattr that marks an overlay upper directory opaque (hides its lower directories). */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_LINK_DIR = '.wh..wh.plnk';
const WH_OPAQUE = '.wh..wh..opq';

/** Files up to this size are gathered and written with one synchronous call. */
const SMALL_FILE = 1 << 20;
// Pieces smaller than this are gathered (fewer writes for a file fed in small chunks); larger
// ones are written as they come: copying them cost more than the extra write(2).
const COALESCE = 64 << 10;

const O_CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Unpacks the uncompressed layer tar `layer` into `dest` (created when missing) and returns
 * the sum of the entries' sizes. Entries that would touch anything outside `dest`, or leave
 * a link in it that leads out (Docker's rule, `linkLeavesRoot`), fail with ERR_UNSAFE_ENTRY;
 * a corrupt tar with the reader's ERR_INVALID_ARCHIVE; a full disk with ERR_NO_SPACE. On any
 * failure `dest` is put back as it was before the call (see apply-undo.ts): nothing from the
 * archive remains, and what it replaced or removed is restored.
 *
 * An `fs.ReadStream` nobody has read from yet is not read through the stream: its file is
 * read directly in 1 MiB chunks (fs/file-chunks.ts), whatever the stream's highWaterMark,
 * and the stream is destroyed. Other streams are read as they come.
 */
export async function applyLayer(dest: string, layer: Readable | AsyncIterable<Uint8Array>, opts: ApplyOptions = {}): Promise<number> {
  const root = await prepareRoot(dest);
  const applier = new Applier(root, opts);
  let applied = false;
  try {
    // Errors of the archive itself (the reader's) pass as they are; the entries' are translated.
    const progress = () => opts.onProgress?.({ entries: applier.entries, bytes: applier.size });
    await forEachTarEntry(directSource(layer as AsyncIterable<Uint8Array>), (entry) => {
      let pending: Promise<void> | undefined;
      try {
        pending = applier.apply(entry);
      } catch (err) {
        throw translateError(err, entry.header.name);
      }
      if (pending === undefined) {
        progress();
        return undefined;
      }
      return pending.then(progress, (err) => {
        throw translateError(err, entry.header.name);
      });
    });
    try {
      applier.finish();
    } catch (err) {
      throw translateError(err, '(directory metadata)');
    }
    applied = true;
  } finally {
    await applier.cleanup(applied);
  }
  return applier.size;
}

async function prepareRoot(dest: string): Promise<string> {
  let root: string;
  try {
    root = await fs.promises.realpath(dest);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    await makeDirs(dest, 0o755);
    root = await fs.promises.realpath(dest);
  }
  const st = await fs.promises.stat(root);
  if (!st.isDirectory()) throw errInvalidOption(`cannot apply a layer to ${dest}: not a directory`);
  return root;
}

/** Marks errors raised by the archive source or reader, which pass through untranslated. */
class SourceError extends Error {
  constructor(readonly inner: unknown) {
    super('source error');
  }
}

function translateError(err: unknown, name: string): unknown {
  if (err instanceof SourceError) return err.inner;
  const what = `applying layer entry ${JSON.stringify(name)}`;
  const toolErrno = mknodErrno(err);
  if (isGraphDriverError(err) && toolErrno === undefined) return err;
  const code = toolErrno ?? errnoCode(err);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return toolErrno
        ? new GraphDriverError(ErrorCode.NoSpace, `${what}: no space left (${code})`, { cause: err })
        : asStorageError(err, what);
    case 'ENAMETOOLONG':
      return new GraphDriverError(ErrorCode.Unsupported, `${what}: name too long`, { cause: err });
    case 'ERR_OUT_OF_RANGE':
      // Node refuses a header value for a syscall (a uid or gid beyond 32 bits, say)
      return new GraphDriverError(ErrorCode.InvalidArchive, `${what}: ${(err as Error).message}`, { cause: err });
    case 'EPERM':
    case 'EACCES':
    case 'EINVAL':
    case 'EMLINK':
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return new GraphDriverError(ErrorCode.Unsupported, `${what}: ${code} (operation not permitted here)`, {
        cause: err,
      });
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EEXIST':
    case 'EISDIR':
    case 'ENOTEMPTY':
    case 'ELOOP':
      return new GraphDriverError(ErrorCode.InvalidArchive, `${what}: conflicts with the tree (${code})`, {
        cause: err,
      });
    default:
      return err;
  }
}

function invalid(name: string, why: string): GraphDriverError {
  return new GraphDriverError(ErrorCode.InvalidArchive, `archive entry ${JSON.stringify(name)}: ${why}`);
}

function mapId(id: number, maps: IdMap[] | undefined, kind: string, name: string): number {
  if (!maps || maps.length === 0) return id;
  for (const m of maps) {
    if (id >= m.containerId && id - m.containerId < m.size) return m.hostId + (id - m.containerId);
  }
  throw new GraphDriverError(
    ErrorCode.Unsupported,
    `archive entry ${JSON.stringify(name)}: container ${kind} ${id} cannot be mapped to a host ${kind}`,
  );
}

function readUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)\s*$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseInt(m[1], 8);
  } catch {
    // not Linux, or no /proc: assume the worst and always chmod
  }
  return 0o777;
}

/** Bytes per write(2) at most (see writeAllSync). */
const WRITE_PIECE = 256 << 10;

/**
 * Writes all of `buf`, at most WRITE_PIECE bytes per call. One huge write lets the kernel
 * ask for page-cache folios as large as the write (large folios, we believe), and when free
 * memory is fragmented finding them costs more than the copy: on this machine a 2 GiB file
 * written 1 MiB at a time took 0.6 s or 2 s from run to run (512 KiB: the same), 256 KiB at
 * a time a steady 0.66 s, as Go's 32 KiB writes do.
 */
function writeAllSync(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, Math.min(WRITE_PIECE, buf.length - off));
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // an error is already on its way
  }
}

interface PendingDir {
  rel: string;
  mtime: number;
  /** Mode to set at the end (when it had to be widened for an unprivileged run). */
  mode?: number;
}

class Applier {
  size = 0;
  entries = 0;
  private readonly safe: SafeRoot;
  private readonly undo: ApplyUndo;
  private readonly unpacked = new Set<string>();
  private readonly dirs: PendingDir[] = [];
  private readonly umask = readUmask();
  private readonly isRoot = process.geteuid?.() === 0;
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  private readonly ignoreChown: boolean;
  private readonly whiteouts: WhiteoutFormat;
  private readonly maps: IdMappings | undefined;
  private xattr: Binding | undefined;
  private plnkDir: string | undefined;
  /** 'overlay' whiteouts: the one 0/0 device (at the top of dest) the others are links to. */
  private whiteoutDevice: string | undefined;
  /** Where this run wrote overlay whiteouts (of either form), by the name they hide. */
  private readonly whitedOut = new Set<string>();
  /** Directories this run made opaque (nothing below them needs a whiteout). */
  private readonly opaqued = new Set<string>();
  private readonly whiteoutNeeded: ((rel: string) => boolean) | undefined;
  private readonly plnk = new Map<string, TarHeader>();
  /** Symlinks this run made (and hardlinks of symlinks), judged again at the end against the whole tree. */
  private readonly links: Array<{ entry: string; real: string; target: string }> = [];
  /** Entry name being handled, for messages from callbacks. */
  private current = '';

  constructor(root: string, opts: ApplyOptions) {
    this.ignoreChown = opts.ignoreChownErrors === true;
    this.whiteouts = opts.whiteoutFormat ?? 'remove';
    this.whiteoutNeeded = opts.whiteoutNeeded;
    this.maps = opts.idMappings;
    this.undo = ApplyUndo.start(root);
    this.safe = new SafeRoot(
      root,
      (abs) => {
        this.undo.created(abs.slice(root.length + 1), true);
        this.initParentDir(abs);
      },
      (rel) => this.undo.beforeChangeIn(rel),
    );
  }

  /**
   * Applies one entry. Most entries (directories, links, files whose data the reader
   * already holds) are handled synchronously; a promise is returned only for those that
   * must wait (file data still to come, device nodes, aufs link sources). A layer has
   * thousands of small entries, and in a process that has just started the awaits (and V8
   * compiling the async functions that hold them) cost more than the syscalls.
   */
  apply(e: TarEntry): Promise<void> | undefined {
    const h = e.header;
    this.entries++;
    this.size += h.size;
    this.current = h.name;
    const rel = cleanEntryName(h.name);
    const [parentRel, base] = splitRel(rel);
    if (rel.split('/', 1)[0] === this.undo.backupName) throw unsafeEntry(h.name, 'names the apply backup directory');

    // aufs metadata at the top: hardlink sources are kept aside, the rest is not content.
    if (rel.startsWith(WH_META_PREFIX)) {
      const first = rel.split('/', 1)[0];
      if (first === WH_LINK_DIR) {
        if (rel !== WH_LINK_DIR && h.type === 'file') return this.stashAufsLinkSource(e, base);
        return undefined;
      }
      if (rel !== WH_OPAQUE) return undefined;
    }

    if (h.xattrs && h.xattrs.size > 0 && !this.xattr) this.xattr = xattrBinding();

    if (base.startsWith(WH_PREFIX)) return this.whiteout(h, parentRel, base);
    if (this.whitedOut.size > 0) this.revive(rel, h.type === 'directory');

    const parent = this.safe.resolveDir(parentRel, { create: true, entry: h.name })!;
    const real = joinRel(parent, base);
    if (real === '' && h.type !== 'directory') throw unsafeEntry(h.name, `a ${h.type} cannot replace the root`);

    let pending: Promise<unknown> | undefined;
    switch (h.type) {
      case 'directory':
        this.directory(h, real);
        break;
      case 'file':
        pending = this.file(h, real, e.body);
        break;
      case 'symlink':
        this.symlink(h, rel, real);
        break;
      case 'hardlink':
        pending = this.hardlink(h, rel, real);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        return this.special(h, real).then((made) => {
          if (made) this.unpacked.add(real);
        });
      default:
        throw new GraphDriverError(
          ErrorCode.Unsupported,
          `archive entry ${JSON.stringify(h.name)}: unsupported type ${String((h as TarHeader).type)}`,
        );
    }
    if (pending === undefined) {
      this.unpacked.add(real);
      return undefined;
    }
    return pending.then(() => {
      this.unpacked.add(real);
    });
  }

  /** Directory times and deferred modes, after every entry (later entries change them). */
  finish(): void {
    this.checkLinksThroughLinks();
    for (const d of this.dirs) {
      if (!this.safe.isRealDir(d.rel)) continue; // removed or replaced since
      const abs = this.safe.abs(d.rel);
      if (d.mode !== undefined) fs.chmodSync(abs, d.mode);
      fs.lutimesSync(abs, d.mtime, d.mtime);
    }
  }

  /**
   * Each link was lexically inside when made; links made later can still make it lead out
   * physically (`up -> ../..` at depth 2, then `top -> d1/d2/up/..`). Judged once the tree
   * is whole, each link still there as it was made.
   */
  private checkLinksThroughLinks(): void {
    for (const l of this.links) {
      if (!this.safe.isRealDir(splitRel(l.real)[0])) continue; // gone with its directory
      const abs = this.safe.abs(l.real);
      if (!fs.lstatSync(abs, { throwIfNoEntry: false })?.isSymbolicLink() || fs.readlinkSync(abs) !== l.target) continue;
      if (linkLeadsOutThroughLinks(this.safe.root, l.real, l.target)) {
        throw unsafeEntry(l.entry, `symlink target ${JSON.stringify(l.target)} leads outside the root through other symlinks`);
      }
    }
  }

  /** Ends the run: keeps the result if `applied`, else puts the root back as it was. */
  async cleanup(applied: boolean): Promise<void> {
    if (this.plnkDir) fs.rmSync(this.plnkDir, { recursive: true, force: true });
    if (applied) {
      let rootTime: number | undefined; // the last "./" entry's, as finish() set it
      for (const d of this.dirs) if (d.rel === '') rootTime = d.mtime;
      this.undo.commit(rootTime);
    } else {
      await this.undo.rollback();
    }
    if (this.whiteoutDevice) fs.rmSync(this.safe.abs(this.whiteoutDevice), { force: true });
  }

  // --- whiteouts ---------------------------------------------------------------------

  private whiteout(h: TarHeader, parentRel: string, base: string): Promise<void> | undefined {
    if (this.whitedOut.size > 0 && parentRel !== '') this.revive(parentRel, true);
    if (base === WH_OPAQUE) {
      this.opaque(h, parentRel);
      return undefined;
    }
    if (base.startsWith(WH_META_PREFIX)) return undefined; // other aufs metadata: not content
    const name = base.slice(WH_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw unsafeEntry(h.name, 'whiteout does not name a file');
    const dir = this.safe.resolveDir(parentRel, { create: true, entry: h.name })!;
    const rel = joinRel(dir, name);
    this.remove(rel);
    this.unpacked.delete(rel);
    if (this.whiteouts === 'remove' || !this.hidesSomething(rel)) return undefined;
    const [uid, gid] = this.ids(h);
    this.whitedOut.add(rel);
    if (this.whiteouts === 'overlay-files') {
      const whRel = joinRel(dir, base);
      const abs = this.safe.abs(whRel);
      const fd = this.replace(whRel, () => fs.openSync(abs, O_CREATE_NEW, 0o600));
      fs.closeSync(fd);
      this.lchownIds(abs, uid, gid);
      this.unpacked.add(whRel);
      return undefined;
    }
    // overlay's own form, as moby's overlayWhiteoutConverter: a 0/0 device (mode 0). Node has
    // no mknod(2), and a process per whiteout is slow: the device is made once and the
    // whiteouts are hard links to it, as the kernel's own overlay shares one whiteout inode.
    const abs = this.safe.abs(rel);
    const linkUp = () => {
      this.undo.beforeChangeIn(rel);
      fs.linkSync(this.safe.abs(this.whiteoutDevice!), abs); // link(2) never follows a symlink
      this.undo.created(rel);
      this.unpacked.add(rel);
    };
    if (this.whiteoutDevice !== undefined) {
      linkUp();
      return undefined;
    }
    // named as aufs metadata, which no entry of an archive can create
    const device = `${WH_META_PREFIX}whiteout-${process.pid}-${Date.now()}`;
    this.undo.beforeChangeIn(device);
    return mknod(this.safe.abs(device), 'char', { mode: 0, major: 0, minor: 0 }).then(() => {
      this.undo.created(device);
      this.whiteoutDevice = device;
      this.unpacked.add(device); // an opaque whiteout at the top must not wipe it
      this.lchownIds(this.safe.abs(device), uid, gid);
      linkUp();
    });
  }

  /**
   * An entry at (or below) a name this run whited out in an overlay upper dir: the whiteout
   * goes, and a directory made in its place is opaque, so that the lower layers' object of
   * that name stays hidden (what deleting it and then making the entry would have given).
   */
  private revive(rel: string, isDir: boolean): void {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!this.whitedOut.delete(p)) continue;
      if (this.whiteouts === 'overlay') this.remove(p);
      else this.remove(joinRel(splitRel(p)[0], WH_PREFIX + splitRel(p)[1]));
      this.unpacked.delete(p);
      if (i === parts.length && !isDir) continue; // a non-directory just takes the name
      const abs = this.safe.abs(p);
      this.undo.beforeChangeIn(p);
      fs.mkdirSync(abs, 0o755);
      this.undo.created(p, true);
      this.initParentDir(abs);
      this.safe.addDir(p);
      this.markOpaque(p);
    }
  }

  /**
   * `.wh..wh..opq` in D: remove everything in D that this layer did not unpack itself; in
   * an overlay upper dir, also mark D opaque so that the lower layers' D is hidden.
   */
  private opaque(h: TarHeader, dirRel: string): void {
    this.wipeOpaque(h, dirRel);
    if (this.whiteouts === 'remove') return;
    const dir =
      dirRel === '' ? '' : joinRel(this.safe.resolveDir(splitRel(dirRel)[0], { create: true, entry: h.name })!, splitRel(dirRel)[1]);
    if (!this.safe.isRealDir(dir)) return; // a symlink in the way: nothing to mark (as Docker)
    this.markOpaque(dir);
  }

  /** True when a whiteout at `rel` would hide something of the layers below. */
  private hidesSomething(rel: string): boolean {
    for (let p = splitRel(rel)[0]; ; p = splitRel(p)[0]) {
      if (this.opaqued.has(p)) return false;
      if (p === '') break;
    }
    return this.whiteoutNeeded?.(rel) ?? true;
  }

  /** Marks the real directory `dir` opaque in the overlay form of this run. */
  private markOpaque(dir: string): void {
    this.opaqued.add(dir);
    const abs = this.safe.abs(dir);
    if (this.whiteouts === 'overlay') {
      this.undo.beforeMeta(dir, true);
      lsetxattrSync((this.xattr ??= xattrBinding()), abs, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    } else {
      const rel = joinRel(dir, WH_OPAQUE);
      const fd = this.replace(rel, () => fs.openSync(this.safe.abs(rel), O_CREATE_NEW, 0o600));
      fs.closeSync(fd);
      this.unpacked.add(rel);
    }
  }

  private wipeOpaque(h: TarHeader, dirRel: string): void {
    let dir = '';
    if (dirRel !== '') {
      // D's parents are followed as for any entry; D itself is not (Docker: Lstat + Walk).
      const [pRel, dBase] = splitRel(dirRel);
      dir = joinRel(this.safe.resolveDir(pRel, { create: true, entry: h.name })!, dBase);
      const abs = this.safe.abs(dir);
      const st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined) {
        this.undo.beforeChangeIn(dir);
        fs.mkdirSync(abs, 0o755);
        this.undo.created(dir, true);
        this.initParentDir(abs);
        this.safe.addDir(dir);
        return; // new and empty: nothing to hide
      }
      if (!st.isDirectory()) return;
      this.safe.addDir(dir);
    }
    this.wipe(dir);
    this.safe.forgetBelow(dir);
  }

  private wipe(dir: string): void {
    for (const ent of fs.readdirSync(this.safe.abs(dir), { withFileTypes: true })) {
      if (dir === '' && ent.name === this.undo.backupName) continue;
      const rel = joinRel(dir, ent.name);
      if (this.unpacked.has(rel)) {
        if (ent.isDirectory()) this.wipe(rel);
      } else {
        this.undo.displace(rel);
      }
    }
  }

  /**
   * Removes the object at `rel` itself (rm -rf; a symlink is unlinked, not followed), or
   * moves it aside for a rollback (ApplyUndo.displace).
   */
  private remove(rel: string): void {
    if (this.undo.displace(rel)) this.safe.forget(rel);
  }

  /** Runs `make` (which fails with EEXIST on any existing name); on EEXIST replaces. */
  private replace<T>(rel: string, make: () => T): T {
    this.undo.beforeChangeIn(rel);
    let made: T;
    try {
      made = make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      // Most names in the way are files: unlinked (or moved aside) without looking first
      // (a layer diff replaces thousands); a directory is removed whole.
      this.remove(rel);
      made = make();
    }
    this.undo.created(rel);
    return made;
  }

  // --- entry types -------------------------------------------------------------------

  private directory(h: TarHeader, real: string): void {
    const abs = this.safe.abs(real);
    const xattrs = h.xattrs !== undefined && h.xattrs.size > 0;
    if (real === '') {
      this.undo.beforeMeta('', xattrs);
    } else {
      this.undo.beforeChangeIn(real);
      try {
        fs.mkdirSync(abs, 0o700);
        this.undo.created(real, true);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        const st = fs.lstatSync(abs);
        if (st.isDirectory()) {
          this.undo.beforeMeta(real, xattrs);
        } else {
          this.remove(real);
          fs.mkdirSync(abs, 0o700);
          this.undo.created(real, true);
        }
      }
      this.safe.addDir(real);
    }
    this.lchown(abs, h);
    this.setXattrs(abs, h);
    const mode = h.mode & 0o7777;
    let deferred: number | undefined;
    if (!this.isRoot && (mode & 0o700) !== 0o700) {
      // Unprivileged: keep it writable for the entries to come; the real mode at the end.
      fs.chmodSync(abs, mode | 0o700);
      deferred = mode;
    } else {
      fs.chmodSync(abs, mode);
    }
    this.dirs.push({ rel: real, mtime: mtimeOf(h), mode: deferred });
  }

  /** A regular file; synchronous when the reader already holds all its data (see apply). */
  private file(h: TarHeader, real: string, body: AsyncIterable<Buffer>): Promise<void> | undefined {
    const abs = this.safe.abs(real);
    const mode = h.mode & 0o7777;
    // Created with its final mode when nothing (umask, chown clearing set-id bits) alters it.
    const direct = (mode & 0o7000) === 0 && (mode & this.umask) === 0;
    const fd = this.replace(real, () => fs.openSync(abs, O_CREATE_NEW, direct ? mode : 0o600));
    const data = takeBuffered(body);
    if (data === undefined) return this.streamFile(fd, abs, h, direct, body);
    try {
      writeAllSync(fd, data);
      this.fileMetadata(fd, abs, h, direct, data.length);
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    fs.closeSync(fd);
    return undefined;
  }

  /** The rest of file() when the data has yet to come. */
  private async streamFile(fd: number, abs: string, h: TarHeader, direct: boolean, body: AsyncIterable<Buffer>): Promise<void> {
    try {
      this.fileMetadata(fd, abs, h, direct, await writeBody(fd, body, h.size));
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    fs.closeSync(fd);
  }

  /** Owner, xattrs, mode and times of a file whose `written` data bytes are written. */
  private fileMetadata(fd: number, abs: string, h: TarHeader, direct: boolean, written: number): void {
    if (written !== h.size) throw invalid(h.name, `${written} data bytes for a size of ${h.size}`);
    const [uid, gid] = this.ids(h);
    try {
      fs.fchownSync(fd, uid, gid);
    } catch (err) {
      if (!this.chownTolerated(err)) throw err;
    }
    this.setXattrs(abs, h); // after chown, which drops security.capability
    if (!direct) fs.fchmodSync(fd, h.mode & 0o7777); // after chown, which drops set-id bits
    const t = mtimeOf(h);
    fs.futimesSync(fd, t, t);
  }

  /** `rel`: the entry's cleaned name; `real`: where it lands (its parents' symlinks resolved). */
  private symlink(h: TarHeader, rel: string, real: string): void {
    const target = h.linkname;
    if (target === undefined || target === '') throw invalid(h.name, 'symlink without a target');
    if (target.includes('\0')) throw unsafeEntry(h.name, 'symlink target contains NUL');
    // Judged where Docker judges it (the name) and where it really lives.
    assertLinkInside(h.name, rel, target);
    if (real !== rel) assertLinkInside(h.name, real, target);
    const abs = this.safe.abs(real);
    this.replace(real, () => fs.symlinkSync(target, abs));
    if (!target.startsWith('/')) this.links.push({ entry: h.name, real, target });
    this.lchown(abs, h);
    this.setXattrs(abs, h);
    const t = mtimeOf(h);
    fs.lutimesSync(abs, t, t);
  }

  /** Synchronous but for links to aufs link sources. */
  private hardlink(h: TarHeader, rel: string, real: string): Promise<void> | undefined {
    const link = h.linkname;
    if (link === undefined || link === '') throw invalid(h.name, 'hardlink without a target');
    let lrel: string;
    try {
      // Docker joins the target to the root before cleaning: "/../x" climbs out too.
      if (linkLeavesRoot('', link)) throw new Error('out');
      lrel = cleanEntryName(link);
    } catch {
      throw unsafeEntry(h.name, `hardlink target ${JSON.stringify(link)} is outside the root`);
    }
    if (lrel.split('/', 1)[0] === WH_LINK_DIR) return this.aufsHardlink(h, real, lrel);
    if (lrel === '') throw unsafeEntry(h.name, 'hardlink to the root directory');

    const [lp, lb] = splitRel(lrel);
    const lparent = this.safe.resolveDir(lp, { create: false, entry: h.name });
    const target = lparent === null ? null : joinRel(lparent, lb);
    const tst = target === null ? undefined : fs.lstatSync(this.safe.abs(target), { throwIfNoEntry: false });
    if (target === null || tst === undefined) throw invalid(h.name, `hardlink target ${JSON.stringify(link)} not found`);
    if (tst.isDirectory()) throw unsafeEntry(h.name, `hardlink target ${JSON.stringify(link)} is a directory`);
    if (target === real) throw invalid(h.name, 'hardlink to itself');

    const abs = this.safe.abs(real);
    const tabs = this.safe.abs(target);
    if (tst.isSymbolicLink()) {
      // link(2) links the symlink itself: its target is then read from the new name's directory.
      const starget = fs.readlinkSync(tabs);
      assertLinkInside(h.name, rel, starget);
      if (real !== rel) assertLinkInside(h.name, real, starget);
      if (!starget.startsWith('/')) this.links.push({ entry: h.name, real, target: starget });
    }
    // The owner, mode and times set below change the inode the link shares with its target.
    this.undo.beforeMeta(target, h.xattrs !== undefined && h.xattrs.size > 0);
    this.replace(real, () => fs.linkSync(tabs, abs)); // link(2) never follows a symlink
    this.lchown(abs, h);
    this.setXattrs(abs, h);
    if (!tst.isSymbolicLink()) {
      fs.chmodSync(abs, h.mode & 0o7777);
      const t = mtimeOf(h);
      fs.lutimesSync(abs, t, t);
    }
    return undefined;
  }

  /** Returns false when the entry was skipped (a device in an unprivileged run). */
  private async special(h: TarHeader, real: string): Promise<boolean> {
    const device = h.type === 'char' || h.type === 'block';
    if (device && !this.isRoot && this.ignoreChown) return false;
    const abs = this.safe.abs(real);
    const make = () => mknod(abs, h.type as 'char' | 'block' | 'fifo', { mode: 0o600, major: h.devmajor, minor: h.devminor });
    this.undo.beforeChangeIn(real);
    try {
      try {
        await make();
      } catch (err) {
        if (mknodErrno(err) !== 'EEXIST') throw err;
        this.remove(real);
        await make();
      }
      this.undo.created(real);
    } catch (err) {
      if (device && mknodErrno(err) === 'EPERM' && this.ignoreChown) return false; // userns
      throw err;
    }
    this.lchown(abs, h);
    this.setXattrs(abs, h);
    fs.chmodSync(abs, h.mode & 0o7777);
    const t = mtimeOf(h);
    fs.lutimesSync(abs, t, t);
    return true;
  }

  // --- aufs hardlink sources (.wh..wh.plnk) -------------------------------------------

  private async stashAufsLinkSource(e: TarEntry, base: string): Promise<void> {
    this.plnkDir ??= fs.mkdtempSync(join(tmpdir(), 'graphdriver-plnk-'));
    const p = join(this.plnkDir, base); // base: one clean component, not "." or ".."
    fs.rmSync(p, { force: true });
    const fd = fs.openSync(p, O_CREATE_NEW, 0o600);
    try {
      await writeBody(fd, e.body, e.header.size);
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    fs.closeSync(fd);
    this.plnk.set(base, e.header);
  }

  /** Docker retargets links into .wh..wh.plnk: a copy of the source, with its metadata. */
  private async aufsHardlink(h: TarHeader, real: string, lrel: string): Promise<void> {
    const key = splitRel(lrel)[1];
    const src = this.plnk.get(key);
    if (!src || !this.plnkDir) throw invalid(h.name, `invalid aufs hardlink to ${JSON.stringify(h.linkname)}`);
    if (src.xattrs && src.xattrs.size > 0 && !this.xattr) this.xattr = xattrBinding();
    const body = fs.createReadStream(join(this.plnkDir, key), { highWaterMark: 1 << 20 });
    try {
      await this.file({ ...src, name: h.name, type: 'file' }, real, body);
    } finally {
      body.destroy();
    }
  }

  // --- metadata ----------------------------------------------------------------------

  private ids(h: TarHeader): [number, number] {
    return [mapId(h.uid, this.maps?.uidMap, 'uid', h.name), mapId(h.gid, this.maps?.gidMap, 'gid', h.name)];
  }

  private chownTolerated(err: unknown): boolean {
    if (!this.ignoreChown) return false;
    const c = errnoCode(err);
    return c === 'EPERM' || c === 'EINVAL';
  }

  private lchown(abs: string, h: TarHeader): void {
    const [uid, gid] = this.ids(h);
    this.lchownIds(abs, uid, gid);
  }

  private lchownIds(abs: string, uid: number, gid: number): void {
    try {
      fs.lchownSync(abs, uid, gid);
    } catch (err) {
      if (!this.chownTolerated(err)) throw err;
    }
  }

  /** Missing parents: 0755, owned by the (mapped) root, as Docker's MkdirAllAndChownNew. */
  private initParentDir(abs: string): void {
    const uid = mapId(0, this.maps?.uidMap, 'uid', this.current);
    const gid = mapId(0, this.maps?.gidMap, 'gid', this.current);
    if (uid !== this.euid || gid !== this.egid) this.lchownIds(abs, uid, gid);
    if ((0o755 & this.umask) !== 0) fs.chmodSync(abs, 0o755);
  }

  private setXattrs(abs: string, h: TarHeader): void {
    if (!h.xattrs || h.xattrs.size === 0) return;
    const b = this.xattr!;
    for (const [key, value] of h.xattrs) {
      try {
        lsetxattrSync(b, abs, key, value);
      } catch (err) {
        // As Docker: not every filesystem (or an unprivileged run) takes every xattr.
        const c = (err as { code?: string }).code;
        if (c === 'ENOTSUP' || c === 'EOPNOTSUPP' || c === 'EPERM') continue;
        throw err;
      }
    }
  }
}

/** An entry's whole data if the tar reader already holds it (its bodies can say), else undefined. */
function takeBuffered(body: AsyncIterable<Buffer>): Buffer | undefined {
  const b = body as AsyncIterable<Buffer> & { takeBuffered?: () => Buffer | undefined };
  return typeof b.takeBuffered === 'function' ? b.takeBuffered() : undefined;
}

function mtimeOf(h: TarHeader): number {
  return Number.isFinite(h.mtime) ? h.mtime : 0;
}

/**
 * Streams an entry's data to `fd` and returns the byte count. A small file fed in small
 * pieces (a stream of tiny chunks) is gathered and written with one call; every other piece
 * is written as it comes, before the next is asked for (backpressure, flat memory). A large
 * piece is never copied: the Debian corpus's bigger files mostly straddle the 1 MiB reads,
 * and copying them cost 9-16% of applyLayer's time on tmpfs. Gathered pieces are copied,
 * never kept: each lies in a source chunk that may be reused once the next is asked for
 * (fs/file-chunks.ts). The writes are synchronous, like every other call here: a trip
 * through the thread pool per chunk cost more than the write itself (a 2 GiB file from a
 * 64 KiB-chunk stream took twice as long).
 */
async function writeBody(fd: number, body: AsyncIterable<Buffer>, size: number): Promise<number> {
  const it = body[Symbol.asyncIterator]();
  const small = size <= SMALL_FILE;
  let gathered: Buffer | undefined;
  let used = 0;
  let total = 0;
  for (;;) {
    let r: IteratorResult<Buffer>;
    try {
      r = await it.next();
    } catch (err) {
      throw new SourceError(err);
    }
    if (r.done) break;
    const chunk = r.value;
    if (chunk.length === 0) continue;
    total += chunk.length;
    if (small && chunk.length < COALESCE && total <= size && !(used === 0 && chunk.length === size)) {
      gathered ??= Buffer.allocUnsafe(size);
      used += chunk.copy(gathered, used);
    } else {
      if (used > 0) {
        writeAllSync(fd, gathered!.subarray(0, used));
        used = 0;
      }
      writeAllSync(fd, chunk);
    }
  }
  if (used > 0) writeAllSync(fd, gathered!.subarray(0, used));
  return total;
}
