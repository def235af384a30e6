// From a send stream to the paths that may differ between the parent and the child.
//
// A send stream is a replay script: every path in it names an entry as it is at that
// moment of the replay, including temporary orphan names ("o261-10-0") and names under
// directories that a later rename moves. To compare the two trees we need, for every
// entry the stream touched, its name in the child (after all later renames) and its name in
// the parent (before all earlier renames). Both come from one tree of the names the stream
// mentioned: renames move a node with everything under it, and every node remembers where
// its entry was in the parent tree (its origin).
//
// Being generous is safe (a path that did not change is compared and dropped); missing a
// path is not. Every node is therefore counted both where it started and where it ended.
import { SendCommand, type SendOp } from './send-stream.js';

interface Node {
  name: string;
  parent: Node | null;
  children: Map<string, Node> | null;
  /** Path of this entry in the parent tree, or null for an entry the stream made. */
  origin: string | null;
  touched: boolean;
}

export interface TouchedPaths {
  /** Paths (no leading "/", "" = root) that may differ, named as in the child tree. */
  newPaths: Set<string>;
  /** Paths as named in the parent tree: where touched entries came from. */
  oldPaths: Set<string>;
  /** Inode numbers the stream named (creations), for information. */
  inodes: Set<bigint>;
}

const join = (dir: string | null, name: string): string | null => (dir === null ? null : dir === '' ? name : dir + '/' + name);

class NameTree {
  readonly root: Node = { name: '', parent: null, children: null, origin: '', touched: false };
  readonly oldPaths = new Set<string>();

  /** The node at `path` now, made on the way when the stream had not mentioned it before. */
  resolve(path: string): Node {
    let node = this.root;
    if (path === '') return node;
    for (const name of path.split('/')) {
      if (name === '') continue;
      node.children ??= new Map();
      let child = node.children.get(name);
      if (!child) {
        // Untouched so far, so it is the entry of the parent tree at the same place below
        // its directory (or something new, in which case the guess only costs a compare).
        child = { name, parent: node, children: null, origin: join(node.origin, name), touched: false };
        node.children.set(name, child);
      }
      node = child;
    }
    return node;
  }

  touch(path: string): Node {
    const node = this.resolve(path);
    node.touched = true;
    if (node.origin !== null) this.oldPaths.add(node.origin);
    return node;
  }

  rename(from: string, to: string): void {
    const node = this.touch(from);
    if (node === this.root) return;
    node.parent?.children?.delete(node.name);
    const slash = to.lastIndexOf('/');
    const dir = this.resolve(slash < 0 ? '' : to.slice(0, slash));
    const name = to.slice(slash + 1);
    dir.children ??= new Map();
    // What stood at the destination is replaced: it (and all it held) is gone from there.
    const replaced = dir.children.get(name);
    this.forgetSubtree(replaced);
    const destOrigin = join(dir.origin, name);
    if (destOrigin !== null) this.oldPaths.add(destOrigin);
    node.name = name;
    node.parent = dir;
    dir.children.set(name, node);
  }

  private forgetSubtree(node: Node | undefined): void {
    if (!node) return;
    if (node.origin !== null) this.oldPaths.add(node.origin);
    for (const c of node.children?.values() ?? []) this.forgetSubtree(c);
  }

  /** Current (final) paths of all touched nodes still in the tree. */
  finalPaths(): Set<string> {
    const out = new Set<string>();
    const walk = (node: Node, path: string) => {
      if (node.touched) out.add(path);
      for (const c of node.children?.values() ?? []) walk(c, path === '' ? c.name : path + '/' + c.name);
    };
    walk(this.root, '');
    return out;
  }
}

/** Collects the touched paths one operation at a time (as a send stream is read). */
export class TouchedPathsBuilder {
  private readonly tree = new NameTree();
  private readonly inodes = new Set<bigint>();

  add(op: SendOp): void {
    const tree = this.tree;
    switch (op.cmd) {
      case SendCommand.Subvol:
      case SendCommand.Snapshot:
      case SendCommand.End:
        // their PATH is the subvolume's name, not an entry inside it
        return;
      case SendCommand.Rename:
        if (op.path !== undefined && op.pathTo !== undefined) tree.rename(op.path, op.pathTo);
        return;
      case SendCommand.Link:
        if (op.path !== undefined) tree.touch(op.path);
        if (op.pathLink !== undefined) tree.touch(op.pathLink);
        return;
      default:
        if (op.ino !== undefined) this.inodes.add(op.ino);
        if (op.path !== undefined) tree.touch(op.path);
        // a clone's source (CLONE_PATH) is only read; a symlink's PATH_LINK is its target
        return;
    }
  }

  result(): TouchedPaths {
    return { newPaths: this.tree.finalPaths(), oldPaths: this.tree.oldPaths, inodes: this.inodes };
  }
}

/** The paths a stream's operations may have changed, in child and in parent terms. */
export function touchedPaths(ops: Iterable<SendOp>): TouchedPaths {
  const b = new TouchedPathsBuilder();
  for (const op of ops) b.add(op);
  return b.result();
}
