// Trees for driver tests: build one from a list of entries (owners, modes, xattrs, links,
// special files, nanosecond times), take a snapshot of one, and compare two snapshots
// path by path. The comparison is what "this layer reproduces that one" means in the
// conformance suite.
import { createHash } from 'node:crypto';
import { chmod, lchown, link, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimesNs } from '../fs/times.js';
import { mknod } from '../fs/mknod.js';
import { llistxattrSync, lgetxattrSync, lsetxattrSync, xattrBinding } from '../fs/xattr.js';

/** A numeric owner, as lchown takes it. */
export interface Owner {
  /** User id. */
  uid: number;
  /** Group id. */
  gid: number;
}

/** What every {@link EntrySpec} but a hardlink may set. */
export interface EntryCommon {
  /** Relative to the tree's root, "/"-separated, no leading "/". */
  path: string;
  /** Set with lchown (needs root for ids other than your own); default: left as created. */
  owner?: Owner;
  /** Set after creation (and after chown, which clears setuid). Default: 0755 dirs, 0644 files. */
  mode?: number;
  /** Extended attributes to set (with lsetxattr; `trusted.*` needs root). */
  xattrs?: Record<string, string | Buffer>;
  /** Nanoseconds since the epoch; set last (directories' after their content). */
  mtimeNs?: bigint;
}

/** One entry for {@link buildTree}: a directory, file, link or special file with its metadata. */
export type EntrySpec =
  | (EntryCommon & {
      /** A directory. */
      type: 'dir';
    })
  | (EntryCommon & {
      /** A regular file. */
      type: 'file';
      /** Its bytes. */
      content: string | Buffer;
    })
  | (EntryCommon & {
      /** A symbolic link. */
      type: 'symlink';
      /** What the link says, written as is (it may dangle). */
      target: string;
    })
  | {
      /** A second name for the file at `target`. */
      type: 'hardlink';
      /** The new name, relative to the root. */
      path: string;
      /** An existing file of the same tree, relative to the root. */
      target: string;
    }
  | (EntryCommon & {
      /** A named pipe. */
      type: 'fifo';
    })
  | (EntryCommon & {
      /** A device node (needs root). */
      type: 'char' | 'block';
      /** Device major number. */
      major: number;
      /** Device minor number. */
      minor: number;
    });

export { setTimesNs };

/** Deterministic pseudo-random bytes (xorshift32), so trees can be rebuilt and checked. */
export function randomContent(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes `entries` under `root` in order, creating missing parent directories (0755). */
export async function buildTree(root: string, entries: readonly EntrySpec[]): Promise<void> {
  const timed: Array<{ path: string; ns: bigint; dir: boolean }> = [];
  for (const e of entries) {
    const p = join(root, e.path);
    await mkdir(dirname(p), { recursive: true });
    switch (e.type) {
      case 'dir':
        await mkdir(p, { recursive: true });
        break;
      case 'file':
        await writeFile(p, e.content);
        break;
      case 'symlink':
        await symlink(e.target, p);
        break;
      case 'hardlink':
        await link(join(root, e.target), p);
        continue;
      case 'fifo':
        await mknod(p, 'fifo', { mode: e.mode ?? 0o644 });
        break;
      case 'char':
      case 'block':
        await mknod(p, e.type, { mode: e.mode ?? 0o644, major: e.major, minor: e.minor });
        break;
    }
    if (e.owner) await lchown(p, e.owner.uid, e.owner.gid);
    if (e.type !== 'symlink') await chmod(p, e.mode ?? (e.type === 'dir' ? 0o755 : 0o644));
    if (e.xattrs) {
      const b = xattrBinding();
      for (const [name, value] of Object.entries(e.xattrs)) lsetxattrSync(b, p, name, Buffer.from(value));
    }
    if (e.mtimeNs !== undefined) timed.push({ path: p, ns: e.mtimeNs, dir: e.type === 'dir' });
  }
  // Creating entries changes their directories' mtimes: set files first, directories last,
  // deepest first.
  timed.sort((a, b) => Number(a.dir) - Number(b.dir) || b.path.length - a.path.length);
  for (const t of timed) await setTimesNs(t.path, t.ns);
}

/** What a path in a {@link TreeSnapshot} is. */
export type NodeType = 'dir' | 'file' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** What a tree holds at one path, as far as a layer must reproduce it. */
export interface NodeInfo {
  /** The entry's kind. */
  type: NodeType;
  /** Permission bits with setuid/setgid/sticky. Not meaningful for symlinks. */
  mode: number;
  /** Owner uid. */
  uid: number;
  /** Owner gid. */
  gid: number;
  /** Regular files: size in bytes. */
  size?: number;
  /** Regular files: SHA-256 of the content, hex. */
  sha256?: string;
  /** Symlinks: the target. */
  target?: string;
  /** Devices: "major:minor". */
  rdev?: string;
  /** Extended attributes (on symlinks only when asked), values hex. */
  xattrs: Record<string, string>;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** For a file with several names in the tree: the first of them (sorted); else undefined. */
  linkGroup?: string;
  /** (dev, ino), to check that names share an inode. */
  inode: string;
  /** Regular files: link count (a name outside the tree would show here). */
  nlink?: number;
}

/** A tree as {@link snapshotTree} saw it: path ("/", "/a", "/a/b") to what is there. */
export type TreeSnapshot = Map<string, NodeInfo>;

function nodeType(st: BigIntStats): NodeType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

function devString(rdev: bigint): string {
  const major = ((rdev & 0xfff00n) >> 8n) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** What {@link snapshotTree} leaves out. */
export interface SnapshotOptions {
  /** Absolute paths below the root not to list nor descend into (e.g. a layer inside its parent's tree). */
  exclude?: readonly string[];
  /** Read symlinks' extended attributes too (`trusted.*` ones can be set on a link; not every driver keeps them). */
  symlinkXattrs?: boolean;
}

/**
 * Everything under `root` ("/" is the root itself, then "/a", "/a/b"...). `lost+found` at
 * the top is left out: ext4 and xfs make one and it is not layer content. Every field is
 * kept (inodes and nanosecond times too), so `expect(after).toEqual(before)` is an "untouched"
 * check, and {@link compareTrees} says how two trees must agree.
 */
export async function snapshotTree(root: string, opts: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const b = xattrBinding();
  const out: TreeSnapshot = new Map();
  const inodes = new Map<string, string[]>();
  const exclude = new Set(opts.exclude ?? []);
  const visit = async (abs: string, rel: string): Promise<void> => {
    if (exclude.has(abs)) return;
    const st = await lstat(abs, { bigint: true });
    const type = nodeType(st);
    const info: NodeInfo = {
      type,
      mode: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      xattrs: {},
      mtimeNs: st.mtimeNs,
      inode: `${st.dev}:${st.ino}`,
    };
    if (type === 'file') {
      const data = await readFile(abs);
      info.size = data.length;
      info.sha256 = createHash('sha256').update(data).digest('hex');
      info.nlink = Number(st.nlink);
      if (st.nlink > 1n) inodes.set(info.inode, [...(inodes.get(info.inode) ?? []), rel]);
    }
    if (type === 'symlink') info.target = await readlink(abs);
    if (type === 'char' || type === 'block') info.rdev = devString(st.rdev);
    if (type !== 'symlink' || opts.symlinkXattrs) {
      for (const name of llistxattrSync(b, abs).sort()) {
        info.xattrs[name] = (lgetxattrSync(b, abs, name) ?? Buffer.alloc(0)).toString('hex');
      }
    }
    out.set(rel, info);
    if (type === 'dir') {
      const names = (await readdir(abs)).sort();
      for (const name of names) {
        if (rel === '/' && name === 'lost+found') continue;
        await visit(join(abs, name), rel === '/' ? `/${name}` : `${rel}/${name}`);
      }
    }
  };
  await visit(root, '/');
  for (const names of inodes.values()) {
    if (names.length < 2) continue;
    const first = [...names].sort()[0];
    for (const n of names) out.get(n)!.linkGroup = first;
  }
  return out;
}

/** What {@link compareTrees} compares. */
export interface CompareOptions {
  /**
   * How modification times must agree: 'ns' exactly; 'seconds' in whole seconds (what
   * survives a tar); 'none' not compared.
   */
  mtime?: 'ns' | 'seconds' | 'none';
  /**
   * Whose modification times are compared: 'all' entries, 'non-dirs' (an unpacker touches
   * directories as it fills them) or regular 'files' only. Default: 'all' for 'ns', 'files'
   * for 'seconds'.
   */
  mtimeOf?: 'all' | 'non-dirs' | 'files';
  /** Paths to leave out of the comparison (e.g. "/" itself). */
  ignore?: (path: string) => boolean;
  /** Compare owners (default true; a rootless unpack cannot keep them). */
  owners?: boolean;
  /** Compare device nodes (default true; false leaves them out of both sides, as a rootless unpack cannot make them). */
  devices?: boolean;
}

const NS = 1_000_000_000n;
const floorSec = (ns: bigint) => (ns >= 0n ? ns / NS : -((-ns + NS - 1n) / NS));

/** Differences between two snapshots, one line each; empty when they agree. */
export function compareTrees(expected: TreeSnapshot, actual: TreeSnapshot, opts: CompareOptions = {}): string[] {
  const mtime = opts.mtime ?? 'none';
  const owners = opts.owners ?? true;
  const mtimeOf = opts.mtimeOf ?? (mtime === 'ns' ? 'all' : 'files');
  const isDevice = (n: NodeInfo | undefined) => n?.type === 'char' || n?.type === 'block';
  const diffs: string[] = [];
  const paths = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  for (const p of paths) {
    if (opts.ignore?.(p)) continue;
    const e = expected.get(p);
    const a = actual.get(p);
    if (opts.devices === false && (isDevice(e) || isDevice(a))) continue;
    if (!e) {
      diffs.push(`${p}: unexpected ${a!.type}`);
      continue;
    }
    if (!a) {
      diffs.push(`${p}: missing ${e.type}`);
      continue;
    }
    const field = (name: string, x: unknown, y: unknown) => {
      if (x !== y) diffs.push(`${p}: ${name} ${String(x)} != ${String(y)}`);
    };
    field('type', e.type, a.type);
    if (e.type !== a.type) continue;
    if (e.type !== 'symlink') field('mode', e.mode.toString(8), a.mode.toString(8));
    if (owners) field('owner', `${e.uid}:${e.gid}`, `${a.uid}:${a.gid}`);
    field('size', e.size, a.size);
    field('content', e.sha256, a.sha256);
    field('target', e.target, a.target);
    field('rdev', e.rdev, a.rdev);
    field('xattrs', JSON.stringify(e.xattrs), JSON.stringify(a.xattrs));
    field('hardlinked with', e.linkGroup, a.linkGroup);
    field('link count', e.nlink, a.nlink);
    const timed = mtimeOf === 'all' || (mtimeOf === 'non-dirs' ? e.type !== 'dir' : e.type === 'file');
    if (timed && mtime === 'ns') field('mtime', e.mtimeNs, a.mtimeNs);
    if (timed && mtime === 'seconds') field('mtime (s)', floorSec(e.mtimeNs), floorSec(a.mtimeNs));
  }
  return diffs;
}

/**
 * rm -rf for test scratch space: also works for an unprivileged user on trees with read-only
 * directories (a layer may hold a 0555 directory), and, unlike core's `deleteTree` (which
 * stays on one filesystem, as a driver must), goes into what lies below on other devices:
 * a test's home holds btrfs subvolumes, and removing them (rmdir of an empty subvolume) is
 * what a test's clean-up wants.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
  }
  const open = async (dir: string): Promise<void> => {
    await chmod(dir, 0o700).catch(() => {});
    for (const ent of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (ent.isDirectory()) await open(join(dir, ent.name));
    }
  };
  await open(path);
  await rm(path, { recursive: true, force: true });
}

/** Relative paths and types of everything under `dir` (for "left as it was" checks). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string) => {
    for (const ent of (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      out.push(`${ent.isDirectory() ? 'd' : ent.isSymbolicLink() ? 'l' : 'f'} ${r}`);
      if (ent.isDirectory()) await walk(join(abs, ent.name), r);
    }
  };
  await walk(dir, '');
  return out;
}
