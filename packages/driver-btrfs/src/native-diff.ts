// The native change list: what `btrfs send --no-data -p parent child` says changed,
// checked with Docker's rules on those paths only. The cost follows the size of the change,
// not of the layers: the kernel compares the two snapshot trees by their shared blocks, and
// only the named paths are lstat'ed.
//
// send works on read-only subvolumes. Each layer diffed gets one under home/snapshots,
// kept and used again for as long as it is still the layer's state: a snapshot takes a
// transaction commit (tens of ms on a busy disk), while checking one costs a sync and a
// subvolume listing, nothing when nothing is dirty.
//
// When a kept snapshot S of layer L is current: right after a snapshot is made, L's root
// generation is the snapshot's creation transaction (making S COWs L's root node in that
// transaction), and any later change to L's tree COWs its root again in a later
// transaction. So, after a sync (which commits whatever is pending, data written back
// included), "L.gen == S.cgen" means L has not changed since S was made. The listing also
// says that S is a snapshot of L (its parent UUID is L's UUID; a layer made again under the
// same id has another UUID) and unmodified (S.gen == S.cgen). Anything else (L written, L
// snapshotted again, even by a child's create, a balance) makes S stale: it is replaced.
// The cache is in memory only: home/snapshots is emptied at every init, so a crash can
// leave nothing that a later process would trust.
//
// The pair is read before the listing is back (speculatively): the send and the lstats of
// a kept pair run while the sync and the listing do, and the answer is only used when the
// listing says both snapshots were current.
//
// The native path declines (throws Decline, and core falls back to the naive diff) when:
// there is no parent; the child is not a snapshot of the parent (subvolume Parent UUID);
// either layer holds nested subvolumes (send does not descend into them, the naive walk
// does), or their stubs (the empty directories a snapshot leaves in their place, which
// send does not report either); or anything fails.
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import type { Change } from '@graphdriver/core';
import type { Btrfs, SubvolumeInfo, SubvolumeListEntry } from './btrfs.js';
import { changesFromCandidates } from './changes-from-touched.js';
import { SendStreamReader } from './send-stream.js';
import { TouchedPathsBuilder } from './touched-paths.js';

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface NativeDiffStats {
  /** Calls answered natively. */
  native: number;
  /** Calls left to the naive diff. */
  fallback: number;
  lastFallback?: string;
  /** Why, with how often. */
  reasons: Record<string, number>;
  /** Read-only snapshots made, and kept ones found current and used again. */
  snapshotsMade: number;
  snapshotsReused: number;
}

/**
 * Read-only snapshots of a child and its parent, kept from deletion until released.
 *
 * @internal Not public API: exported only for the crash tests' child process, which loads the built package.
 */
export interface SnapshotPair {
  newSnap: string;
  oldSnap: string;
  /** Lets the snapshots go (they stay cached; a stale one is deleted). Idempotent. */
  release(): void;
}

export class Decline extends Error {}

/** How many layers keep a read-only snapshot (least recently used ones go first). */
export const MAX_KEPT_SNAPSHOTS = 32;

/** A read-only snapshot of a layer, with the number of pairs using it. */
class Snap {
  refs = 1;
  retired = false;
  constructor(
    readonly layer: string,
    readonly path: string,
  ) {}
}

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export class NativeDiff {
  readonly stats: NativeDiffStats = { native: 0, fallback: 0, reasons: {}, snapshotsMade: 0, snapshotsReused: 0 };
  /** Snapshots that exist (made and not yet deleted), so cleanup can remove them. */
  readonly live = new Set<string>();
  /** The current snapshot of each layer, least recently used first. */
  private readonly kept = new Map<string, Snap>();
  /** Deletions running in the background (off the caller's path; cleanup waits for them). */
  private readonly deleting = new Set<Promise<void>>();
  private readonly infos = new Map<string, Promise<SubvolumeInfo>>();
  /** Snapshots being made; `dropped` when their layer is removed meanwhile (not to be kept). */
  private readonly making = new Set<{ layer: string; dropped: boolean }>();

  constructor(
    private readonly btrfs: Btrfs,
    private readonly layerPath: (id: string) => string,
    /** Where the read-only snapshots live (emptied at init). */
    readonly snapshotsDir: string,
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
  private async checkRelation(id: string, parent: string): Promise<[SubvolumeInfo, SubvolumeInfo]> {
    if (this.hasStubs(id) || this.hasStubs(parent)) throw new Decline('a layer holds stubs of nested subvolumes');
    const [child, par] = await Promise.all([this.info(id), this.info(parent)]);
    if (!child.parentUuid || child.parentUuid !== par.uuid) throw new Decline(`${id} is not a snapshot of ${parent}`);
    return [child, par];
  }

  // --- the kept snapshots -----------------------------------------------------------------

  /**
   * A new read-only snapshot of `layer`, held once for the caller: kept as the layer's
   * current one, or (`keep` false) used by this call only and deleted on its release.
   */
  private async make(layer: string, keep = true): Promise<Snap> {
    const path = join(this.snapshotsDir, randomBytes(12).toString('hex'));
    const token = { layer, dropped: false };
    this.making.add(token);
    this.live.add(path);
    try {
      await this.btrfs.subvolumeSnapshot(this.layerPath(layer), path, { readonly: true });
    } catch (err) {
      this.live.delete(path);
      throw err;
    } finally {
      this.making.delete(token);
    }
    this.stats.snapshotsMade++;
    const snap = new Snap(layer, path);
    if (token.dropped || !keep) {
      // not to be kept (or the layer was removed meanwhile): used by this call only
      snap.retired = true;
      return snap;
    }
    const old = this.kept.get(layer);
    if (old) this.retire(old);
    this.kept.set(layer, snap);
    this.evict();
    return snap;
  }

  /** The kept snapshot of `layer`, held for the caller, or undefined. */
  private take(layer: string): Snap | undefined {
    const snap = this.kept.get(layer);
    if (!snap) return undefined;
    snap.refs++;
    // most recently used last
    this.kept.delete(layer);
    this.kept.set(layer, snap);
    return snap;
  }

  private unhold(snap: Snap): void {
    snap.refs--;
    if (snap.retired && snap.refs === 0) this.deleteInBackground(snap.path);
  }

  /** No longer the layer's current snapshot: deleted once nobody uses it. */
  private retire(snap: Snap): void {
    if (this.kept.get(snap.layer) === snap) this.kept.delete(snap.layer);
    if (snap.retired) return;
    snap.retired = true;
    if (snap.refs === 0) this.deleteInBackground(snap.path);
  }

  private evict(): void {
    for (const snap of this.kept.values()) {
      if (this.kept.size <= MAX_KEPT_SNAPSHOTS) return;
      if (snap.refs === 0) this.retire(snap);
    }
  }

  private async deleteSnapshot(path: string): Promise<void> {
    if (!this.live.delete(path)) return;
    try {
      await this.btrfs.subvolumeDelete(path);
    } catch (err) {
      // still there: cleanup tries again, else the next init's recover()
      this.live.add(path);
      throw err;
    }
  }

  /**
   * Deletes a snapshot without making the caller wait: a deletion is cheap but it is one
   * more process. Failures are left to recover() at the next init.
   */
  private deleteInBackground(path: string): void {
    const p = this.deleteSnapshot(path).catch(() => {});
    this.deleting.add(p);
    void p.finally(() => this.deleting.delete(p));
  }

  /**
   * Drops the kept snapshot of a layer that goes: deleted now, unless a diff is reading it
   * (then when it is done). A failure is left to cleanup (or the next init), not thrown:
   * the layer's removal does not depend on it.
   */
  async drop(layer: string): Promise<void> {
    for (const m of this.making) if (m.layer === layer) m.dropped = true;
    const snap = this.kept.get(layer);
    if (!snap) return;
    this.kept.delete(layer);
    snap.retired = true;
    if (snap.refs === 0) await this.deleteSnapshot(snap.path).catch(() => {});
  }

  /** Number of layers with a kept snapshot (for tests). */
  get keptCount(): number {
    return this.kept.size;
  }

  /**
   * True when `snap` still is `layer`'s state, by the listing taken after a sync (see the
   * top of this file).
   */
  private current(snap: Snap, layer: SubvolumeInfo, listing: SubvolumeListEntry[]): boolean {
    const l = listing.find((e) => e.id === layer.id);
    const rel = `${basename(this.snapshotsDir)}/${basename(snap.path)}`;
    const s = listing.find((e) => e.path === rel || e.path.endsWith(`/${rel}`));
    if (!l || !s || l.uuid === undefined || s.cgen === undefined) return false;
    return l.uuid === layer.uuid && s.parentUuid === layer.uuid && s.cgen === l.generation && s.generation === s.cgen;
  }

  // --- the pair and the diff --------------------------------------------------------------

  private pairOf(n: Snap, o: Snap): SnapshotPair {
    let released = false;
    return {
      newSnap: n.path,
      oldSnap: o.path,
      release: () => {
        if (released) return;
        released = true;
        this.unhold(n);
        this.unhold(o);
      },
    };
  }

  /**
   * The change list of `id` against `parent`, and the pair of read-only snapshots it was
   * read from, held until the caller releases it (the tar of a diff is read from newSnap).
   * With `keep` false, the snapshots this call has to make are not kept for later calls:
   * they are deleted on release (a size measured at put leaves nothing behind); kept ones
   * that are still current are used all the same.
   */
  async changes(id: string, parent: string, opts: { keep?: boolean } = {}): Promise<{ changes: Change[]; pair: SnapshotPair }> {
    const keep = opts.keep ?? true;
    const [child, par] = await this.checkRelation(id, parent);
    // Is a kept snapshot still its layer? Commit what is pending, then list generations.
    const listing = this.btrfs.filesystemSync(this.snapshotsDir).then(() => this.btrfs.subvolumeList(this.snapshotsDir, { details: true }));
    listing.catch(() => {});

    const keptNew = this.take(id);
    const keptOld = this.take(parent);
    const abort = new AbortController();
    let guess: { pair: SnapshotPair; changes: Promise<Change[]> } | undefined;
    if (keptNew && keptOld) {
      // read the kept pair now; used only if the listing says it is current
      keptNew.refs++;
      keptOld.refs++;
      const pair = this.pairOf(keptNew, keptOld);
      guess = { pair, changes: this.changesBetween(pair, abort.signal) };
      guess.changes.catch(() => {});
    }
    const dropGuess = () => {
      if (!guess) return;
      abort.abort();
      const g = guess;
      void g.changes.catch(() => {}).finally(() => g.pair.release());
      guess = undefined;
    };

    // the snapshots this call holds for its answer: [child's, parent's]
    const held: Array<Snap | undefined> = [];
    try {
      // a layer without a kept snapshot gets one now, alongside the listing
      const got = await Promise.allSettled([keptNew ?? this.make(id, keep), keptOld ?? this.make(parent, keep), listing]);
      for (const i of [0, 1]) {
        const r = got[i];
        if (r.status === 'fulfilled') held[i] = r.value as Snap;
      }
      const failed = got.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      const entries = (got[2] as PromiseFulfilledResult<SubvolumeListEntry[]>).value;
      if (entries.some((s) => s.topLevel === child.id || s.topLevel === par.id)) throw new Decline('a layer holds nested subvolumes');

      // kept snapshots the layer has moved away from are replaced
      const replace = async (i: number, snap: Snap | undefined, layer: SubvolumeInfo) => {
        if (!snap) return;
        if (this.current(snap, layer, entries)) {
          this.stats.snapshotsReused++;
          return;
        }
        dropGuess();
        this.retire(snap);
        held[i] = undefined;
        this.unhold(snap);
        held[i] = await this.make(snap.layer, keep);
      };
      const replaced = await Promise.allSettled([replace(0, keptNew, child), replace(1, keptOld, par)]);
      const bad = replaced.find((r) => r.status === 'rejected');
      if (bad) throw bad.reason;

      const pair = this.pairOf(held[0] as Snap, held[1] as Snap);
      held.length = 0;
      try {
        let changes: Change[];
        if (guess) {
          changes = await guess.changes;
          guess.pair.release();
          guess = undefined;
        } else {
          changes = await this.changesBetween(pair);
        }
        return { changes, pair };
      } catch (err) {
        pair.release();
        throw err;
      }
    } finally {
      for (const snap of held) if (snap) this.unhold(snap);
      dropGuess();
    }
  }

  /** The change list between the two snapshots of a pair. */
  async changesBetween(pair: SnapshotPair, signal?: AbortSignal): Promise<Change[]> {
    const touched = new TouchedPathsBuilder();
    const reader = new SendStreamReader((op) => touched.add(op));
    await this.btrfs.sendTo(pair.newSnap, (chunk) => reader.push(chunk), { parent: pair.oldSnap, noData: true, signal });
    reader.end();
    if (!reader.done) throw new Error('btrfs send: the stream has no END');
    const paths = touched.result();
    return changesFromCandidates({
      newRoot: pair.newSnap,
      oldRoot: pair.oldSnap,
      candidates: [...paths.newPaths, ...paths.oldPaths],
      allLinks: (ino) => this.btrfs.inodeResolve(ino, pair.newSnap),
    });
  }

  /** Resolves when the background deletions started so far are done. */
  async settle(): Promise<void> {
    await Promise.all([...this.deleting]);
  }

  /** Waits for background deletions, then deletes every snapshot still there, kept ones too. */
  async dropAll(remove: (path: string) => Promise<void>): Promise<void> {
    await Promise.all([...this.deleting]);
    for (const snap of this.kept.values()) snap.retired = true;
    this.kept.clear();
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
