// Docker's ChangesDirs (pkg/archive/changes.go + changes_linux.go): the list of paths added,
// modified and deleted in `newDir` relative to `oldDir`.
//
// The two trees are walked side by side, one directory pair at a time. Only entries present
// in both trees are lstat'ed (and have their security.capability read); an entry only in the
// new tree is an Add whatever its metadata, and an entry only in the old tree is one Delete
// (its subtree is not visited), so neither needs more than the readdir that found it.
// Entries with the same (dev, inode) on both sides are the same file and are skipped with
// their subtree, as Docker's walker prunes them.
//
// Synchronous fs calls are used on purpose: with a warm cache, lstat/readdir/lgetxattr
// take 1-3 µs each, far less than a trip through the libuv thread pool. The walk hands the
// event loop back every few milliseconds so that a big tree does not stall the process.
//
// The per-entry work calls few helpers, each directly from the loop: a walk usually runs in
// a process that has just started, where V8 compiles every hot function on its own and
// then again inlined into its caller, on a background thread, for most of the walk's
// duration. Chains of small wrappers (lstat -> helper -> helper) multiply that work; on the
// bench corpus, flattening them took ~10 ms of the ~50 ms V8 spent compiling for one
// ChangesDirs. (Keep entryModified below in step with the loop.)
import { lstatSync, type Dirent } from 'node:fs';
import { ChangeKind, type Change } from '../driver.js';
import { securityCapability as capability } from '../fs/xattr.js';
import { S_IFDIR, S_IFMT, Yielder, assertNamesDecodable, sortByPath, statDifferent, yieldToLoop } from './walk-util.js';
import { joinRel } from '../fs/safe-path.js';
import { ClosedDirs, openDirs, realMode } from '../fs/closed-dirs.js';
import { lstatQuiet, type FileStat } from '../fs/lstat.js';

/** A directory of the new tree, used to insert the "parent changed" Modify entries. */
interface DirNode {
  path: string;
  parent: DirNode | null;
  /** An entry of this directory's subtree (or the directory itself) is in the list. */
  flagged: boolean;
}

interface Task {
  node: DirNode;
  newAbs: string;
  /** The directory at the same path in the old tree; null when there is none. */
  oldAbs: string | null;
  /** Their lstats, when the walk made them (for ClosedDirs). */
  newSt?: FileStat;
  oldSt?: FileStat;
}

function sameCapability(a: string, b: string): boolean {
  const ca = capability(a);
  const cb = capability(b);
  if (ca === null || cb === null) return ca === cb;
  return ca.equals(cb);
}

/**
 * Docker's test for an entry present in both trees (stat fields, then security.capability).
 * Exported for drivers with a native diff, which apply it to the paths they know changed.
 */
export function entryModified(oldPath: string, newPath: string, ost: FileStat, nst: FileStat): boolean {
  return statDifferent(ost, nst) || !sameCapability(oldPath, newPath);
}

function readNames(closed: ClosedDirs, dir: string, st: FileStat | undefined): string[] {
  const names = closed.names(dir, st);
  assertNamesDecodable(dir, names);
  return names;
}

function readEntries(closed: ClosedDirs, dir: string, st: FileStat | undefined): Dirent[] {
  const entries = closed.entries(dir, st);
  for (const e of entries) {
    if (e.name.includes('\ufffd')) {
      assertNamesDecodable(
        dir,
        entries.map((x) => x.name),
      );
      break;
    }
  }
  return entries;
}

/**
 * Changes between two directory trees, as Docker's archive.ChangesDirs. With `oldDir` null
 * every entry of `newDir` is an Add. The list is sorted by path (byte order), the order
 * ExportChanges writes them in; Docker's own order is that of Go map iteration. A closed
 * directory of the (non-root) caller's is opened to be listed and closed again (ClosedDirs).
 */
export async function changesDirs(newDir: string, oldDir: string | null): Promise<Change[]> {
  const closed = new ClosedDirs();
  try {
    return await walkChanges(newDir, oldDir, closed);
  } finally {
    closed.restore();
  }
}

async function walkChanges(newDir: string, oldDir: string | null, closed: ClosedDirs): Promise<Change[]> {
  const changes: Change[] = [];
  const newRoot = lstatSync(newDir, { bigint: true });
  const oldRoot = oldDir === null || oldDir === '' ? null : lstatSync(oldDir, { bigint: true });
  if (!newRoot.isDirectory()) return changes;

  const root: DirNode = { path: '/', parent: null, flagged: true };
  // Records that something under `dir` changed: `dir` and its ancestors not yet in the
  // list get a Modify entry (Docker: "if /foo/bar/file.txt is modified, then /foo/bar must
  // be part of the changed files"). Never for "/".
  const flag = (dir: DirNode) => {
    for (let d: DirNode | null = dir; d !== null && !d.flagged; d = d.parent) {
      d.flagged = true;
      changes.push({ path: d.path, kind: ChangeKind.Modify });
    }
  };

  const stack: Task[] = [
    { node: root, newAbs: newDir, oldAbs: oldRoot?.isDirectory() ? (oldDir as string) : null, newSt: newRoot, oldSt: oldRoot ?? undefined },
  ];
  const yielder = new Yielder();
  while (stack.length > 0) {
    if (yielder.due()) await yieldToLoop();
    const { node, newAbs, oldAbs, newSt, oldSt } = stack.pop() as Task;
    const entries = readEntries(closed, newAbs, newSt);

    if (oldAbs === null) {
      // Nothing to compare against: the whole subtree is added.
      for (const e of entries) {
        const path = joinRel(node.path, e.name);
        if (!node.flagged) flag(node);
        changes.push({ path, kind: ChangeKind.Add });
        if (e.isDirectory()) {
          stack.push({ node: { path, parent: node, flagged: true }, newAbs: newAbs + '/' + e.name, oldAbs: null });
        }
      }
      continue;
    }

    const oldNames = new Set(readNames(closed, oldAbs, oldSt));
    for (const e of entries) {
      const name = e.name;
      const newPath = newAbs + '/' + name;
      let nst: FileStat | null = null;
      let ost: FileStat | null = null;
      let oldPath = '';
      if (oldNames.delete(name)) {
        oldPath = oldAbs + '/' + name;
        // (lstatQuiet straight here, not through a helper of ours: fewer functions for V8 to
        // compile in a process that has just started, which is where most walks run. It is
        // itself a shorter chain than fs.lstatSync on Node 20: see fs/lstat.ts.)
        nst = lstatQuiet(newPath) ?? null;
        ost = lstatQuiet(oldPath) ?? null;
        if (nst === null) {
          // Gone from the new tree since readdir: it counts as deleted.
          if (ost !== null) oldNames.add(name);
          continue;
        }
      }
      if (ost === null) {
        const path = joinRel(node.path, name);
        if (!node.flagged) flag(node);
        changes.push({ path, kind: ChangeKind.Add });
        if (e.isDirectory()) {
          stack.push({ node: { path, parent: node, flagged: true }, newAbs: newPath, oldAbs: null });
        }
        continue;
      }
      const st = nst as FileStat;
      if (st.ino === ost.ino && st.dev === ost.dev) continue; // the same file: nothing changed below
      // entryModified, one call level down (see the note at the top of the file).
      let modified = statDifferent(ost, st);
      if (openDirs() && (Number(st.mode) & S_IFMT) === S_IFDIR) {
        // a directory another walk has opened: compare its real bits
        modified = statDifferent(
          { ...ost, mode: BigInt(realMode(oldPath, Number(ost.mode))) },
          { ...st, mode: BigInt(realMode(newPath, Number(st.mode))) },
        );
      }
      if (!modified) {
        const cn = capability(newPath);
        const co = capability(oldPath);
        modified = cn === null || co === null ? cn !== co : !cn.equals(co);
      }
      const isDir = (Number(st.mode) & S_IFMT) === S_IFDIR;
      // Most entries are unchanged files: their path is only needed when listed or descended into.
      if (!modified && !isDir) continue;
      const path = joinRel(node.path, name);
      if (modified) {
        if (!node.flagged) flag(node);
        changes.push({ path, kind: ChangeKind.Modify });
      }
      if (isDir) {
        // A directory that replaced a non-directory: its children are all Adds (Docker
        // compares them against the old entry's children, and a file has none).
        stack.push({
          node: { path, parent: node, flagged: modified },
          newAbs: newPath,
          oldAbs: (Number(ost.mode) & S_IFMT) === S_IFDIR ? oldPath : null,
          newSt: st,
          oldSt: ost,
        });
      }
      // A non-directory that replaced a directory is a Modify only: Docker does not list
      // the old directory's contents as deleted.
    }
    for (const name of oldNames) {
      if (!node.flagged) flag(node);
      changes.push({ path: joinRel(node.path, name), kind: ChangeKind.Delete });
    }
  }

  sortByPath(changes);
  return changes;
}
