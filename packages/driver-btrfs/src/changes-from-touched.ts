// Docker's change rules (core's changesDirs) run on the candidate paths only, rather than
// on every entry of both trees. The result is the list changesDirs(newRoot, oldRoot) would
// give, provided every path that differs is a candidate or lies under an added directory.
//
// The rules, for a path P other than "/", where "in a tree" means P and all its ancestors
// exist there, the ancestors as directories (the walk never follows symlinks):
//   Add     P is in the new tree and not in the old one;
//   Modify  P is in both and core's entryModified says so (mode, owner, rdev, size, mtime,
//           security.capability);
//   Delete  P is in the old tree, not in the new one, and its parent is a directory in the
//           new tree (what was under a deleted directory is not listed);
//   a directory that is new, or replaced a non-directory, has its whole subtree added;
//   a directory that replaced another directory (another inode: a snapshot keeps inode
//   numbers, so an unchanged directory has the same one) has its subtree compared in full;
//   a directory of both trees with any change below it is listed as a Modify.
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { ChangeKind, changesDirs, compareBytewise, entryModified, type Change } from '@graphdriver/core';

/** Lookups in one tree, cached, with Docker's "in the tree" meaning. */
class TreeView {
  private readonly cache = new Map<string, BigIntStats | null>();
  constructor(readonly root: string) {}

  abs(path: string): string {
    return path === '' ? this.root : this.root + '/' + path;
  }

  /** lstat of `path` (no leading "/", "" = root) if it is in the tree, else null. */
  node(path: string): BigIntStats | null {
    const hit = this.cache.get(path);
    if (hit !== undefined) return hit;
    let st: BigIntStats | null = null;
    const slash = path.lastIndexOf('/');
    const parent = path === '' ? null : this.node(slash < 0 ? '' : path.slice(0, slash));
    if (path === '' || parent?.isDirectory()) {
      st = lstatSync(this.abs(path), { bigint: true, throwIfNoEntry: false }) ?? null;
    }
    this.cache.set(path, st);
    return st;
  }
}

const dirname = (p: string) => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};

/** Adds every ancestor (except the root) of each path to the set. */
function withAncestors(paths: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const p of paths) {
    for (let q = p; q !== '' && !out.has(q); q = dirname(q)) out.add(q);
  }
  return out;
}

export interface ChangesFromCandidatesInput {
  newRoot: string;
  oldRoot: string;
  /** Paths relative to the roots ("a/b", no leading "/"). */
  candidates: Iterable<string>;
  /**
   * Every name of an inode in the new tree. An inode with several links is reported by the
   * stream under one of them, but all its names changed.
   */
  allLinks(ino: bigint, path: string): Promise<string[]>;
}

export async function changesFromCandidates(input: ChangesFromCandidatesInput): Promise<Change[]> {
  const newTree = new TreeView(input.newRoot);
  const oldTree = new TreeView(input.oldRoot);
  const candidates = withAncestors(input.candidates);
  // a big change set is judged in slices, so that the event loop is not held for long
  let last = performance.now();
  const pause = async () => {
    if (performance.now() - last < 20) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };

  // Hard links: every name of a changed inode is a candidate.
  const linked = new Map<bigint, string>();
  for (const p of candidates) {
    await pause();
    const n = newTree.node(p);
    if (n && !n.isDirectory() && n.nlink > 1n && !linked.has(n.ino)) linked.set(n.ino, p);
  }
  const queue = [...linked];
  const resolveSome = async () => {
    for (let item = queue.pop(); item; item = queue.pop()) {
      const [ino, path] = item;
      const names = await input.allLinks(ino, path);
      // every link of an inode lives in its subvolume: fewer names than links means the
      // answer was cut short or a name did not survive the text output
      const nlink = Number((newTree.node(path) as BigIntStats).nlink);
      if (names.length !== nlink) throw new Error(`inode ${ino} has ${nlink} links but ${names.length} names were found`);
      for (const q of withAncestors(names)) candidates.add(q);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, resolveSome));

  const kinds = new Map<string, ChangeKind>();
  const addSubtree = (dir: string) => {
    const stack = [dir];
    while (stack.length) {
      const d = stack.pop() as string;
      for (const e of readdirSync(newTree.abs(d), { withFileTypes: true })) {
        const p = d + '/' + e.name;
        kinds.set(p, ChangeKind.Add);
        if (e.isDirectory()) stack.push(p);
      }
    }
  };

  for (const p of candidates) {
    await pause();
    const n = newTree.node(p);
    const o = oldTree.node(p);
    if (n !== null && o === null) {
      kinds.set(p, ChangeKind.Add);
      if (n.isDirectory()) addSubtree(p);
    } else if (n !== null && o !== null) {
      if (entryModified(oldTree.abs(p), newTree.abs(p), o, n)) kinds.set(p, ChangeKind.Modify);
      if (n.isDirectory() && !o.isDirectory()) addSubtree(p);
      if (n.isDirectory() && o.isDirectory() && n.ino !== o.ino) {
        // Another directory now stands here (a rename moved it in, with all it holds, and
        // the stream names none of its entries): compare the two subtrees in full, by name.
        for (const c of await changesDirs(newTree.abs(p), oldTree.abs(p))) kinds.set(p + c.path, c.kind);
      }
    } else if (o !== null) {
      const parent = newTree.node(dirname(p));
      if (parent?.isDirectory()) kinds.set(p, ChangeKind.Delete);
    }
  }

  // Directories with changes below them (all ancestors are candidates, so all were judged).
  const flagged = new Set<string>();
  for (const p of [...kinds.keys()]) {
    for (let d = dirname(p); d !== '' && !flagged.has(d); d = dirname(d)) {
      flagged.add(d);
      if (!kinds.has(d)) kinds.set(d, ChangeKind.Modify);
    }
  }

  const changes: Change[] = [];
  for (const [p, kind] of kinds) changes.push({ path: '/' + p, kind });
  changes.sort((a, b) => compareBytewise(a.path, b.path));
  return changes;
}
