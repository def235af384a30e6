// A quiet lstat for the diff walks (changes, sizes, exports), which lstat every entry of a tree.
//
// Why not plain fs.lstatSync: on Node 20 every Stats/BigIntStats it returns carries four Date
// objects made eagerly (Node 22 makes them lazy getters). In a fresh process, a CPU profile of
// changesDirs on the bench corpus put those at ~44 ms of ~200 ms; reading Node's own fs binding
// and copying out the fields the walks use nearly halves lstat's CPU (6,665 lstats of the
// corpus in a fresh process, medians: 128 ms CPU -> 70 ms; changesDirs -50 to -60 ms).
//
// The binding is used only where it is both needed and safe, decided once at load: Node builds
// Stats with an eager `atime` (else fs.lstatSync is already cheap); process.binding('fs') is
// there and its lstat takes the arguments fs.lstatSync passes it (read from lstatSync's own
// source: an older signature would abort the process, not throw); deprecations are not pending
// (--pending-deprecation makes process.binding warn, and --throw-deprecation turns that warning
// into an uncaught error a try cannot catch); Node's permission model is off (the binding would
// bypass it); and the binding agrees with fs.lstatSync field by field on "/" and on a missing
// path. Anything else: plain fs.lstatSync. Errors other than ENOENT are Node's own either way
// (same code, syscall, path, message).
import { lstatSync, type BigIntStats } from 'node:fs';

/**
 * What {@link lstatQuiet} returns: the `lstat(2)` fields the diff walks read, as bigints (as in
 * `fs.BigIntStats`, which has them all: a BigIntStats can be passed wherever a FileStat is taken).
 */
export interface FileStat {
  /** Device of the filesystem holding the entry (st_dev). */
  readonly dev: bigint;
  /** Inode number (st_ino). */
  readonly ino: bigint;
  /** File type and permission bits (st_mode). */
  readonly mode: bigint;
  /** Number of hard links (st_nlink). */
  readonly nlink: bigint;
  /** Owner's user id (st_uid). */
  readonly uid: bigint;
  /** Owner's group id (st_gid). */
  readonly gid: bigint;
  /** Device number of a character or block device (st_rdev). */
  readonly rdev: bigint;
  /** Size in bytes (st_size). */
  readonly size: bigint;
  /** Last access, nanoseconds since the epoch. */
  readonly atimeNs: bigint;
  /** Last data change, nanoseconds since the epoch. */
  readonly mtimeNs: bigint;
  /** Last inode change, nanoseconds since the epoch. */
  readonly ctimeNs: bigint;
  /** A regular file. */
  isFile(): boolean;
  /** A directory. */
  isDirectory(): boolean;
  /** A symbolic link. */
  isSymbolicLink(): boolean;
  /** A named pipe. */
  isFIFO(): boolean;
  /** A Unix socket. */
  isSocket(): boolean;
  /** A character device. */
  isCharacterDevice(): boolean;
  /** A block device. */
  isBlockDevice(): boolean;
}

/** The part of Node's internal fs binding used here (Node 20: lib/fs.js lstatSync). */
interface FsBinding {
  lstat(path: string, bigint: true, req: undefined, throwIfNoEntry: false): BigInt64Array | undefined;
}

const NS = 1_000_000_000n;
const S_IFMT = 0o170000;

/**
 * One lstat copied out of the binding's shared array (the next call overwrites it). Layout
 * (lib/internal/fs/utils.js getStatsFromBinding): dev, mode, nlink, uid, gid, rdev, blksize,
 * ino, size, blocks, then seconds and nanoseconds of atime, mtime, ctime, birthtime.
 */
class BindingStat implements FileStat {
  declare dev: bigint;
  declare ino: bigint;
  declare mode: bigint;
  declare nlink: bigint;
  declare uid: bigint;
  declare gid: bigint;
  declare rdev: bigint;
  declare size: bigint;
  declare atimeNs: bigint;
  declare mtimeNs: bigint;
  declare ctimeNs: bigint;

  constructor(a: BigInt64Array) {
    this.dev = a[0];
    this.mode = a[1];
    this.nlink = a[2];
    this.uid = a[3];
    this.gid = a[4];
    this.rdev = a[5];
    this.ino = a[7];
    this.size = a[8];
    this.atimeNs = a[10] * NS + a[11];
    this.mtimeNs = a[12] * NS + a[13];
    this.ctimeNs = a[14] * NS + a[15];
  }

  private type(): number {
    return Number(this.mode) & S_IFMT;
  }
  isFile(): boolean {
    return this.type() === 0o100000;
  }
  isDirectory(): boolean {
    return this.type() === 0o040000;
  }
  isSymbolicLink(): boolean {
    return this.type() === 0o120000;
  }
  isFIFO(): boolean {
    return this.type() === 0o010000;
  }
  isSocket(): boolean {
    return this.type() === 0o140000;
  }
  isCharacterDevice(): boolean {
    return this.type() === 0o020000;
  }
  isBlockDevice(): boolean {
    return this.type() === 0o060000;
  }
}

const QUIET = { bigint: true, throwIfNoEntry: false } as const;
const FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'atimeNs', 'mtimeNs', 'ctimeNs'] as const;

function sameStat(a: FileStat | undefined, b: BigIntStats | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return FIELDS.every((f) => a[f] === b[f]);
}

/** The parts of `process` @types/node leaves out or types as always there. */
const proc = process as unknown as { binding?: (name: string) => unknown; permission?: unknown };

/** Deprecation warnings that are off by default are on: process.binding would warn. */
function deprecationsPending(): boolean {
  const flag = '--pending-deprecation';
  return (
    process.execArgv.includes(flag) ||
    (process.env.NODE_OPTIONS ?? '').includes(flag) ||
    process.env.NODE_PENDING_DEPRECATION === '1' ||
    // Node wraps process.binding in a function that warns (internal/util deprecate)
    proc.binding?.name !== 'binding'
  );
}

/** Node's fs binding when the fast path is both needed and safe here (see the top of the file). */
function fastBinding(): FsBinding | undefined {
  try {
    if (process.platform === 'win32' || proc.permission !== undefined || deprecationsPending()) return undefined;
    const ref = lstatSync('/', { bigint: true });
    if (!('value' in (Object.getOwnPropertyDescriptor(ref, 'atime') ?? {}))) return undefined; // lazy Dates
    if (!/binding\.lstat\([^;]*options\.bigint,\s*undefined,\s*options\.throwIfNoEntry,?\s*\)/.test(lstatSync.toString())) return undefined;
    const binding = proc.binding?.('fs') as Partial<FsBinding> | undefined;
    if (typeof binding?.lstat !== 'function') return undefined;
    const b = binding as FsBinding;
    const fast = (path: string) => {
      const a = b.lstat(path, true, undefined, false);
      return a === undefined ? undefined : new BindingStat(a);
    };
    const missing = `/.graphdriver-lstat-probe-${process.pid}-${Date.now()}`;
    if (!sameStat(fast(missing), lstatSync(missing, QUIET))) return undefined;
    // twice at most: "/" may change between the two calls (its atime, say)
    for (let i = 0; i < 2; i++) {
      if (sameStat(fast('/'), lstatSync('/', QUIET))) return b;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

const binding = fastBinding();

/**
 * Which lstat {@link lstatQuiet} uses in this process: `'binding'`, Node's fs binding read
 * directly (Node 20, where fs.lstatSync builds four Dates per call), or `'fs'`, plain
 * `fs.lstatSync` (Node 22 and later, or where the binding is not safe to use: pending
 * deprecations, the permission model).
 */
export const lstatImplementation: 'binding' | 'fs' = binding === undefined ? 'fs' : 'binding';

function bindingLstat(path: string): FileStat | undefined {
  // a NUL byte: Node refuses the path (ERR_INVALID_ARG_VALUE), the binding would cut it short
  if (typeof path !== 'string' || path.includes('\0')) return lstatSync(path, QUIET);
  const a = (binding as FsBinding).lstat(path, true, undefined, false);
  return a === undefined ? undefined : new BindingStat(a);
}

function fsLstat(path: string): FileStat | undefined {
  return lstatSync(path, QUIET);
}

/**
 * `fs.lstatSync(path, { bigint: true, throwIfNoEntry: false })`, faster on Node 20 (see
 * {@link lstatImplementation}): the entry's {@link FileStat}, undefined when `path` does not
 * exist (ENOENT), any other error thrown as fs.lstatSync throws it (same code, syscall, path).
 * The result is the caller's to keep.
 */
export const lstatQuiet: (path: string) => FileStat | undefined = binding === undefined ? fsLstat : bindingLstat;
