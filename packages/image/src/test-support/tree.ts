// A comparable picture of a directory tree: every path with its type, mode, owners, size,
// content hash, link target, device number, mtime (not for directories: unpackers touch
// them as they go) and hardlink group. Two trees are equal when their pictures are.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One path of a {@link snapshotTree} picture. */
export interface TreeEntry {
  /** `dir`, `file`, `symlink`, `char`, `block`, `fifo` or `socket`. */
  type: string;
  /** Permission bits with setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  /** Owner (0 when owners are left out). */
  uid: number;
  /** Group (0 when owners are left out). */
  gid: number;
  /** Files: length in bytes. */
  size?: number;
  /** Files: hex sha256 of the content. */
  sha256?: string;
  /** Symlinks: the target. */
  link?: string;
  /** Devices: the device number. */
  rdev?: number;
  /** Not directories: modification time in whole seconds. */
  mtime?: number;
  /** For a file with several names: the first of them (in sorted order). */
  hardlinkOf?: string;
}

/** What {@link snapshotTree} leaves out, for trees a rootless unpack made. */
export interface TreeOptions {
  /** Leave owners out (a rootless unpack cannot keep them). */
  owners?: boolean;
  /** Leave device nodes out (a rootless unpack cannot make them). */
  devices?: boolean;
}

function typeOf(s: import('node:fs').Stats): string {
  if (s.isDirectory()) return 'dir';
  if (s.isFile()) return 'file';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isCharacterDevice()) return 'char';
  if (s.isBlockDevice()) return 'block';
  if (s.isFIFO()) return 'fifo';
  return 'socket';
}

/**
 * A comparable picture of the tree under `root`: every path (relative, `/`-separated) with
 * its {@link TreeEntry}. Reads every file whole to hash it: meant for test-sized trees.
 */
export async function snapshotTree(root: string, opts: TreeOptions = {}): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const inodes = new Map<string, string>();
  const walk = async (rel: string) => {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const s = await lstat(abs);
      const type = typeOf(s);
      if ((type === 'char' || type === 'block') && opts.devices === false) continue;
      const e: TreeEntry = { type, mode: s.mode & 0o7777, uid: opts.owners === false ? 0 : s.uid, gid: opts.owners === false ? 0 : s.gid };
      if (type === 'file') {
        e.size = s.size;
        e.sha256 = createHash('sha256')
          .update(await readFile(abs))
          .digest('hex');
        if (s.nlink > 1) {
          const key = `${s.dev}:${s.ino}`;
          const first = inodes.get(key);
          if (first) e.hardlinkOf = first;
          else inodes.set(key, path);
        }
      }
      if (type === 'symlink') e.link = await readlink(abs);
      if (type === 'char' || type === 'block') e.rdev = s.rdev;
      if (type !== 'dir') e.mtime = Math.floor(s.mtimeMs / 1000);
      out.set(path, e);
      if (type === 'dir') await walk(path);
    }
  };
  await walk('');
  return out;
}

/** Human-readable differences ("path: field a != b"), empty when the trees agree. */
export function diffTrees(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>): string[] {
  const out: string[] = [];
  for (const [path, ea] of a) {
    const eb = b.get(path);
    if (!eb) {
      out.push(`${path}: only in the first tree`);
      continue;
    }
    for (const key of new Set([...Object.keys(ea), ...Object.keys(eb)]) as Set<keyof TreeEntry>) {
      if (ea[key] !== eb[key]) out.push(`${path}: ${key} ${JSON.stringify(ea[key])} != ${JSON.stringify(eb[key])}`);
    }
  }
  for (const path of b.keys()) if (!a.has(path)) out.push(`${path}: only in the second tree`);
  return out;
}

/** A picture as a rootless unpack can match it: owners zeroed, device nodes left out. */
export function rootlessView(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  for (const [path, e] of tree) {
    if (e.type === 'char' || e.type === 'block') continue;
    out.set(path, { ...e, uid: 0, gid: 0 });
  }
  return out;
}
