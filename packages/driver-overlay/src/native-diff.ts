// The native diff of a layer against its own parent: only its diff dir (the upper dir) can
// hold changes, so only that dir is walked, and each entry found there is compared with what
// the parent's merged view shows at its path (lower-view.ts). The result is the naive diff's
// to the byte: the same change list (Docker's ChangesDirs rules: stat fields and
// security.capability decide a Modify, a changed entry's parent directories are listed,
// a deleted directory is one Delete), and the tar comes from core's exportChanges.
//
// Where the upper dir does not tell the whole story it steps aside (undefined: core runs
// the naive diff): another parent than the layer's own, no parent for a layer that has one, or a kernel whose
// redirect_dir/metacopy features store renames and metadata-only copies as xattrs.
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  applyLayer,
  ChangeKind,
  changesSize,
  compareBytewise,
  entryModified,
  exportChanges,
  type ApplyOptions,
  type BackendDiffOptions,
  type Change,
  type LayerStream,
} from '@graphdriver/core';
import { LINK_DIR, type Layout } from './layout.js';
import { isWhiteoutDevice, LowerView, WhiteoutReader, type UpperForm } from './lower-view.js';

export type WhiteoutForm = UpperForm;

export interface NativeDiffStats {
  native: number;
  naive: number;
  /** Why the last diff fell back to the naive one. */
  lastReason: string;
}

/** Attributes the mounted view hides: overlay's own, and fuse-overlayfs's. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.') || name.startsWith('user.fuseoverlayfs.');
}

const WH_OPAQUE = '.wh..wh..opq';

interface DirNode {
  path: string;
  parent: DirNode | null;
  flagged: boolean;
}

interface Task {
  node: DirNode;
  upperAbs: string;
  /** Relative path ('' for the root) in the parent's view, or null when there it is no directory. */
  lowerRel: string | null;
}

export class NativeDiff {
  readonly stats: NativeDiffStats = { native: 0, naive: 0, lastReason: '' };
  private readonly wh: WhiteoutReader;

  /** Why the upper dir cannot be trusted on this kernel, or null (set once probed). */
  naiveReason: string | null = 'overlay not probed yet';

  constructor(
    private readonly layout: Layout,
    readonly form: WhiteoutForm,
  ) {
    this.wh = new WhiteoutReader(form);
  }

  private decline(reason: string): undefined {
    this.stats.naive++;
    this.stats.lastReason = reason;
    return undefined;
  }

  /** The layer's lower dirs when `parent` is its own parent and the native diff can be used. */
  private async lowersFor(id: string, parent: string | null): Promise<string[] | string> {
    if (this.naiveReason !== null) return this.naiveReason;
    const lowers = await this.layout.lowers(id);
    // A base layer is mounted as its diff dir itself (no overlay): the naive diff against
    // nothing lists that very tree, so the walk below (no lowers) gives the same changes.
    if (parent === null) return lowers.length === 0 ? [] : `${id} has a parent: not the whole tree`;
    const short = await this.layout.shortId(parent);
    if (lowers[0] !== `${LINK_DIR}/${short}`) return `${parent} is not the parent of ${id}`;
    return this.layout.lowerDirs(id);
  }

  async changes(id: string, parent: string | null): Promise<Change[] | undefined> {
    const lowers = await this.lowersFor(id, parent);
    if (typeof lowers === 'string') return this.decline(lowers);
    const changes = await this.walk(this.layout.diff(id), lowers);
    this.stats.native++;
    return changes;
  }

  async diffSize(id: string, parent: string | null): Promise<number | undefined> {
    const changes = await this.changes(id, parent);
    return changes && changesSize(this.layout.diff(id), changes);
  }

  async diff(id: string, parent: string | null, opts: BackendDiffOptions): Promise<Readable | undefined> {
    const changes = await this.changes(id, parent);
    if (!changes) return undefined;
    // core's LayerDriver ends the stream in the next second, as it does the naive diff's
    return exportChanges(this.layout.diff(id), changes, { skipXattr: isOverlayXattr, whiteoutTime: opts.whiteoutTime });
  }

  /**
   * Unpacks into the diff dir, whiteouts in this mount program's form. A base layer has
   * nothing below it to hide, and its diff dir is its root as it is: whiteouts just delete.
   */
  async apply(id: string, diff: LayerStream, opts: ApplyOptions): Promise<number> {
    const lowers = await this.layout.lowerDirs(id);
    if (lowers.length === 0) return applyLayer(this.layout.diff(id), diff, { ...opts, whiteoutFormat: 'remove' });
    const view = new LowerView(lowers, this.wh);
    const whiteoutNeeded = (rel: string) => {
      const slash = rel.lastIndexOf('/');
      return view.lookup(slash < 0 ? '' : rel.slice(0, slash), rel.slice(slash + 1)) !== null;
    };
    return applyLayer(this.layout.diff(id), diff, { ...opts, whiteoutFormat: this.form, whiteoutNeeded });
  }

  /** ChangesDirs(merged view of the layer, merged view of its parent), from the upper dir. */
  private async walk(upperRoot: string, lowers: string[]): Promise<Change[]> {
    const view = new LowerView(lowers, this.wh);
    // a base layer's diff dir is its root as it is: nothing in it is a whiteout
    const base = lowers.length === 0;
    const changes: Change[] = [];
    const root: DirNode = { path: '/', parent: null, flagged: true };
    const flag = (dir: DirNode) => {
      for (let d: DirNode | null = dir; d !== null && !d.flagged; d = d.parent) {
        d.flagged = true;
        changes.push({ path: d.path, kind: ChangeKind.Modify });
      }
    };
    const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
    const stack: Task[] = [{ node: root, upperAbs: upperRoot, lowerRel: '' }];
    let steps = 0;
    while (stack.length > 0) {
      if (++steps % 256 === 0) await new Promise((r) => setImmediate(r));
      const { node, upperAbs, lowerRel } = stack.pop() as Task;
      const lowerDir = lowerRel !== null && view.dirLayers(lowerRel) ? lowerRel : null;
      const present = new Set<string>();
      const deleted = new Set<string>();
      for (const e of readdirSync(upperAbs, { withFileTypes: true })) {
        let name = e.name;
        const abs = `${upperAbs}/${name}`;
        let whiteout = false;
        if (!base && this.wh.isMarker(name)) {
          if (name === WH_OPAQUE) continue;
          name = name.slice(4);
          whiteout = true;
        }
        const nst = whiteout ? null : lstatSync(abs, { bigint: true, throwIfNoEntry: false });
        if (!whiteout && nst === undefined) continue; // gone since readdir
        if (whiteout || (!base && isWhiteoutDevice(nst as BigIntStats))) {
          if (lowerDir === null || deleted.has(name) || view.lookup(lowerDir, name) === null) continue;
          deleted.add(name);
          flag(node);
          changes.push({ path: join(node.path, name), kind: ChangeKind.Delete });
          continue;
        }
        const st = nst as BigIntStats;
        present.add(name);
        const path = join(node.path, name);
        const childRel = lowerDir === null ? null : lowerDir === '' ? name : `${lowerDir}/${name}`;
        const old = lowerDir === null ? null : view.lookup(lowerDir, name);
        if (old === null) {
          flag(node);
          changes.push({ path, kind: ChangeKind.Add });
          if (st.isDirectory()) stack.push({ node: { path, parent: node, flagged: true }, upperAbs: abs, lowerRel: null });
          continue;
        }
        const modified = entryModified(old.abs, abs, old.st, st);
        if (modified) {
          flag(node);
          changes.push({ path, kind: ChangeKind.Modify });
        }
        if (st.isDirectory()) {
          // A directory that replaced a non-directory: everything in it is added.
          stack.push({ node: { path, parent: node, flagged: modified }, upperAbs: abs, lowerRel: old.st.isDirectory() ? childRel : null });
        }
      }
      // An opaque directory hides everything of the parent's that it does not hold itself.
      if (lowerDir !== null && this.wh.isOpaque(upperAbs)) {
        for (const name of view.list(lowerDir)) {
          if (present.has(name) || deleted.has(name)) continue;
          flag(node);
          changes.push({ path: join(node.path, name), kind: ChangeKind.Delete });
        }
      }
    }
    return changes.sort((a, b) => compareBytewise(a.path, b.path));
  }
}
