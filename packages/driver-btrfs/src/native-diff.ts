// The native change list: what `btrfs send --no-data -p parent child` says changed,
// checked with Docker's rules on those paths only. The cost follows the size of the change,
// not of the layers: the kernel compares the two snapshot trees by their shared blocks, and
// only the named paths are lstat'ed.
//
// send works on read-only subvolumes, so each call takes read-only snapshots of both layers
// under home/tmp (O(1) each, a few ms) and deletes them afterwards; a crash leaves them to
// recover(). Keeping a read-only snapshot per layer instead would go stale as soon as the
// layer is written (image layers are filled by applyDiff after create) and double the
// subvolume count.
//
// The native path declines (returns undefined, and core falls back to the naive diff) when:
// there is no parent; the child is not a snapshot of the parent (subvolume Parent UUID);
// either layer holds nested subvolumes (send does not descend into them, the naive walk
// does), or their stubs (the empty directories a snapshot leaves in their place, which
// send does not report either); or anything fails.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Change } from '@graphdriver/core';
import type { Btrfs, SubvolumeInfo } from './btrfs.js';
import { changesFromCandidates } from './changes-from-touched.js';
import { parseSendStream } from './send-stream.js';
import { touchedPaths } from './touched-paths.js';

export interface NativeDiffStats {
  /** Calls answered natively. */
  native: number;
  /** Calls left to the naive diff. */
  fallback: number;
  lastFallback?: string;
  /** Why, with how often. */
  reasons: Record<string, number>;
}

/** Read-only snapshots of a child and its parent, alive until released. */
export interface SnapshotPair {
  newSnap: string;
  oldSnap: string;
  /** Deletes whichever of the two snapshots are still there. */
  release(which?: 'old' | 'both'): Promise<void>;
}

export class Decline extends Error {}

export class NativeDiff {
  readonly stats: NativeDiffStats = { native: 0, fallback: 0, reasons: {} };
  /** Snapshots currently alive, so cleanup can remove them. */
  readonly live = new Set<string>();
  /** Deletions running in the background (off the caller's path; cleanup waits for them). */
  private readonly deleting = new Set<Promise<void>>();
  private readonly infos = new Map<string, Promise<SubvolumeInfo>>();

  constructor(
    private readonly btrfs: Btrfs,
    private readonly layerPath: (id: string) => string,
    private readonly tmpDir: string,
    /** True for a layer holding stubs of nested subvolumes (see the backend's create). */
    private readonly hasStubs: (id: string) => boolean = () => false,
  ) {}

  /** Forgets what is cached about `id` (its subvolume was made or deleted). */
  forget(id: string): void {
    this.infos.delete(id);
  }

  private info(id: string): Promise<SubvolumeInfo> {
    let p = this.infos.get(id);
    if (!p) {
      p = this.btrfs.subvolumeShow(this.layerPath(id));
      p.catch(() => this.infos.delete(id));
      this.infos.set(id, p);
    }
    return p;
  }

  /** Declines unless `id` is a snapshot of `parent` (cached: a subvolume keeps its UUIDs). */
  private async checkRelation(id: string, parent: string): Promise<void> {
    if (this.hasStubs(id) || this.hasStubs(parent)) throw new Decline('a layer holds stubs of nested subvolumes');
    const [child, par] = await Promise.all([this.info(id), this.info(parent)]);
    if (!child.parentUuid || child.parentUuid !== par.uuid) throw new Decline(`${id} is not a snapshot of ${parent}`);
  }

  /**
   * Declines when either layer holds a nested subvolume (one may be made at any time): one
   * listing of the filesystem's subvolumes, looking for one whose parent is either layer.
   */
  private async checkNested(id: string, parent: string): Promise<void> {
    const [child, par, all] = await Promise.all([this.info(id), this.info(parent), this.btrfs.subvolumeList(this.tmpDir)]);
    if (all.some((s) => s.topLevel === child.id || s.topLevel === par.id)) throw new Decline('a layer holds nested subvolumes');
  }

  private async snapshot(source: string, dest: string): Promise<void> {
    this.live.add(dest);
    try {
      await this.btrfs.subvolumeSnapshot(source, dest, { readonly: true });
    } catch (err) {
      this.live.delete(dest);
      throw err;
    }
  }

  private async dropSnapshot(path: string): Promise<void> {
    if (!this.live.delete(path)) return;
    await this.btrfs.subvolumeDelete(path);
  }

  /** Checks the pair and snapshots both layers (the nesting check in parallel: it rarely declines). */
  async snapshots(id: string, parent: string): Promise<SnapshotPair> {
    await this.checkRelation(id, parent);
    const base = join(this.tmpDir, `diff-${randomBytes(6).toString('hex')}`);
    const newSnap = `${base}-new`;
    const oldSnap = `${base}-old`;
    const made = await Promise.allSettled([
      this.checkNested(id, parent),
      this.snapshot(this.layerPath(id), newSnap),
      this.snapshot(this.layerPath(parent), oldSnap),
    ]);
    const release = async (which: 'old' | 'both' = 'both') => {
      await Promise.all([this.dropSnapshot(oldSnap), which === 'both' ? this.dropSnapshot(newSnap) : undefined]);
    };
    const failed = made.find((r) => r.status === 'rejected');
    if (failed) {
      await release().catch(() => {});
      throw failed.reason;
    }
    return { newSnap, oldSnap, release };
  }

  /** The change list between the two snapshots of a pair. */
  async changesBetween(pair: SnapshotPair): Promise<Change[]> {
    const streamFile = `${pair.newSnap}.stream`;
    let stream: Buffer;
    try {
      await this.btrfs.send(pair.newSnap, streamFile, { parent: pair.oldSnap, noData: true });
      stream = await readFile(streamFile);
    } finally {
      await rm(streamFile, { force: true });
    }
    const touched = touchedPaths(parseSendStream(stream).ops);
    return changesFromCandidates({
      newRoot: pair.newSnap,
      oldRoot: pair.oldSnap,
      candidates: [...touched.newPaths, ...touched.oldPaths],
      allLinks: (ino) => this.btrfs.inodeResolve(ino, pair.newSnap),
    });
  }

  /**
   * Deletes the pair's snapshots without making the caller wait: a deletion is cheap but
   * it is one more process. Failures are left to recover() at the next init.
   */
  releaseInBackground(pair: SnapshotPair, which: 'old' | 'both' = 'both'): void {
    const p = pair.release(which).catch(() => {});
    this.deleting.add(p);
    void p.finally(() => this.deleting.delete(p));
  }

  /** Resolves when the background deletions started so far are done. */
  async settle(): Promise<void> {
    await Promise.all([...this.deleting]);
  }

  /** Waits for background deletions, then deletes any snapshot still alive. */
  async dropAll(remove: (path: string) => Promise<void>): Promise<void> {
    await Promise.all([...this.deleting]);
    for (const snap of [...this.live]) {
      this.live.delete(snap);
      await remove(snap).catch(() => {});
    }
  }

  /** Records a fallback and returns undefined, the backend's "use the naive diff". */
  decline(err: unknown): undefined {
    this.stats.fallback++;
    const why = err instanceof Error ? err.message : String(err);
    this.stats.lastFallback = why;
    this.stats.reasons[why] = (this.stats.reasons[why] ?? 0) + 1;
    return undefined;
  }
}
