// Turns a LayerBackend into a full Driver: the one place where ids are checked, parents and
// children are tracked, get/put are counted, operations on one id are serialised, the home
// is locked against a second process, and a crash's leftovers are cleaned at init. The rules
// themselves (states, references, concurrency, recovery, refusals) are documented in driver.ts.
import { readdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type {
  ApplyDiffOptions,
  Change,
  CreateOpts,
  DiffOptions,
  Driver,
  IdMappings,
  LayerRecord,
  LayerStream,
  ProtoDriver,
  RemoveOptions,
} from '../driver.js';
import { abortError, abortableSource, throwIfAborted } from '../abort.js';
import type { Lease } from '../diff/naive.js';
import {
  asStorageError,
  errInvalidOption,
  errLayerBusy,
  errLayerExists,
  errLayerNotFound,
  ErrorCode,
  GraphDriverError,
  isAbortError,
  isGraphDriverError,
} from '../errors.js';
import { makeDirs } from '../fs/make-dirs.js';
import { normalizeParent, validateId } from '../ids.js';
import { storageOptions } from '../options.js';
import { applyLayer } from '../diff/apply.js';
import { layerChangesSize, naiveDiffDriverWithApply } from '../diff/naive.js';
import { guardDiffStream } from '../diff/stream-guard.js';
import { directSource } from '../fs/direct-source.js';
import type { LayerBackend } from './backend.js';
import { KeyedMutex } from '../linux/keyed-mutex.js';
import { LayerIndex } from './layer-index.js';
import { isLockFileName, StoreLock } from './store-lock.js';
import { faultPoint } from './fault-points.js';
import { Leases } from './leases.js';
import { inspectStore, repairStore, type StoreProblem } from './check.js';

/** How {@link createLayerDriver} opens a store. */
export interface LayerDriverOptions {
  /** Tolerate failing chown while applying layers (rootless use). */
  ignoreChownErrors?: boolean;
  /** User-namespace remapping: applied layers' owners are shifted to host ids. */
  idMappings?: IdMappings;
}

/**
 * Opens the store at `home` over `backend` as a full Driver: makes `home` (0700) if needed,
 * takes its lock, refuses a home it did not write, runs `backend.open`, then recovers what a
 * crash left (operations cut short are swept). Call `cleanup()` (unmount everything) or
 * `close()` (leave mounts for a later process) to release the lock.
 *
 * @throws GraphDriverError ERR_STORE_BUSY when another process holds `home`; ERR_FOREIGN_HOME
 * when `home` holds data this library did not write; whatever `backend.open` throws. On any
 * failure the lock is released again.
 */
export function createLayerDriver(home: string, backend: LayerBackend, options: LayerDriverOptions = {}): Promise<LayerDriver> {
  return LayerDriver.open(home, backend, options);
}

async function openStore(home: string, backend: LayerBackend, options: LayerDriverOptions): Promise<LayerProtoDriver> {
  await makeDirs(home, 0o700);
  const lock = await StoreLock.acquire(home);
  let opened = false;
  try {
    await refuseForeignHome(home);
    // The index (home/layers) is what marks a home as this library's: it is made before the
    // backend writes anything, so a first init that fails or is killed inside backend.open
    // (devicemapper formats its base device there, for seconds) leaves a home the next init
    // recovers, not one it refuses as foreign for good.
    const index = await LayerIndex.open(home);
    await backend.open?.();
    opened = true;
    const proto = new LayerProtoDriver(home, backend, index, lock, options);
    await proto.recover();
    return proto;
  } catch (err) {
    if (opened) await backend.cleanup().catch(() => {});
    await lock.release();
    throw err;
  }
}

/**
 * Crash recovery deletes what the index does not know, so a home this library did not make
 * (a Docker home, say) must never be taken over: it would be swept clean.
 */
async function refuseForeignHome(home: string): Promise<void> {
  const entries = (await readdir(home)).filter((e) => !isLockFileName(e));
  if (entries.length > 0 && !entries.includes('layers')) {
    throw new GraphDriverError(
      ErrorCode.ForeignHome,
      `${home} holds data this library did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); refusing to manage it`,
    );
  }
}

/** The store: ids, records, states, references, locking and recovery over a backend. */
export class LayerProtoDriver implements ProtoDriver {
  readonly name: string;
  private readonly mutex = new KeyedMutex();
  /** Layers this process has mounted through the backend. */
  private readonly mountedHere = new Map<string, string>();
  /** Layers an applyDiff of this process is unpacking into right now. */
  private readonly applyingNow = new Set<string>();
  /** Transient references of this process's own operations (store/leases.ts). */
  readonly leases = new Leases();
  /** Measures what a layer adds to its parent (set by LayerDriver: its diffSize, native changes where the backend has them). */
  measure?: (id: string, parent: string | null) => Promise<number>;
  /** What recovery at init found and mended, for `check` to report. */
  recoveredAtOpen: StoreProblem[] = [];
  private closed = false;
  /** Set when close() begins: no lease is handed out from then on. */
  private closing = false;

  constructor(
    readonly home: string,
    readonly backend: LayerBackend,
    readonly index: LayerIndex,
    private readonly lock: StoreLock,
    readonly options: LayerDriverOptions,
  ) {
    this.name = backend.name;
  }

  /** Finishes or discards what an earlier process left half done. */
  async recover(): Promise<void> {
    // Children first, so a parent is never removed under a leftover child.
    const unfinished = this.index.all().filter((r) => r.state !== 'complete');
    for (const rec of sortChildrenFirst(unfinished, this.index)) {
      await this.backend.unmount(rec.id).catch(() => {});
      await this.backend.remove(rec.id);
      await this.index.delete(rec.id);
      faultPoint('recover:swept');
      this.recoveredAtOpen.push({
        kind: 'incomplete',
        id: rec.id,
        message: `layer ${rec.id} was left ${rec.state} by a process that stopped`,
        repair: 'removed at open',
        repaired: true,
      });
    }
    faultPoint('recover:backend');
    const swept = await this.backend.recover(new Set(this.index.all().map((r) => r.id)));
    for (const path of swept ?? []) {
      this.recoveredAtOpen.push({
        kind: 'stray',
        path,
        message: `${path}: debris no layer record knows`,
        repair: 'removed at open',
        repaired: true,
      });
    }
  }

  /** Throws as get would when `id` (and `parent`) cannot be read: for native diffs, which mount nothing. */
  checkReadable(id: string, parent: string | null): void {
    validateId(id);
    this.checkOpen();
    this.complete(id);
    if (parent) this.complete(parent);
  }

  private complete(id: string): LayerRecord {
    const rec = this.index.get(id);
    // a diff being applied is a layer in use, not a missing one
    if (this.applyingNow.has(id)) throw errLayerBusy(id, 'a diff is being applied to it');
    if (rec?.state !== 'complete') throw errLayerNotFound(id);
    return rec;
  }

  create(id: string, parent?: string | null, opts?: CreateOpts): Promise<void> {
    return this.make(id, parent, opts, false);
  }

  createReadWrite(id: string, parent?: string | null, opts?: CreateOpts): Promise<void> {
    return this.make(id, parent, opts, true);
  }

  private async make(id: string, parentArg: string | null | undefined, opts: CreateOpts = {}, rw: boolean) {
    validateId(id);
    const parent = normalizeParent(parentArg);
    const storageOpt = storageOptions(this.name, opts.storageOpt, this.backend.storageOptions);
    this.checkOpen();
    await this.mutex.with(parent ? [id, parent] : [id], async () => {
      if (this.index.get(id)) throw errLayerExists(id);
      if (parent) this.complete(parent);
      const rec: LayerRecord = {
        id,
        parent,
        rw,
        state: 'creating',
        created: new Date().toISOString(),
        mounts: 0,
        size: 0, // a new layer adds nothing to its parent yet
        ...(Object.keys(storageOpt).length ? { storageOpt } : {}),
      };
      await this.index.save(rec);
      faultPoint('create:recorded');
      try {
        await this.backend.create(id, parent, { rw, storageOpt, mountLabel: opts.mountLabel });
      } catch (err) {
        // leave the store as it was
        await this.backend.remove(id).catch(() => {});
        await this.index.delete(id).catch(() => {});
        throw asStorageError(err, `create ${id}`);
      }
      faultPoint('create:made');
      await this.index.update(id, { state: 'complete' });
    });
  }

  async remove(id: string, opts: RemoveOptions = {}): Promise<void> {
    validateId(id);
    this.checkOpen();
    await this.mutex.with([id], async () => {
      const rec = this.index.get(id);
      if (!rec) throw errLayerNotFound(id);
      if (this.applyingNow.has(id)) throw errLayerBusy(id, 'a diff is being applied to it');
      const children = this.index.children(id);
      if (children.length) throw errLayerBusy(id, `it has child layers: ${children.join(', ')}`);
      // an operation of this very process reads it now: not even force takes it away
      if (this.leases.held(id) > 0) throw errLayerBusy(id, 'a diff or change list of this process is reading it');
      if (rec.mounts > 0 && !opts.force) throw errLayerBusy(id, `it is mounted (${rec.mounts} references; force releases them)`);
      let unrecorded = false;
      try {
        await this.index.update(id, { state: 'removing' });
      } catch (err) {
        // A full disk cannot take the "removing" mark, and removing is how space is freed:
        // drop the record first instead (a layer without a record is swept at init).
        if (!isGraphDriverError(err, ErrorCode.NoSpace)) throw err;
        await this.index.delete(id);
        unrecorded = true;
      }
      faultPoint('remove:marked');
      try {
        await this.backend.unmount(id).catch(() => {});
        this.mountedHere.delete(id);
        await this.backend.remove(id);
      } catch (err) {
        if (unrecorded) await this.index.save(rec).catch(() => {});
        throw asStorageError(err, `remove ${id}`);
      }
      faultPoint('remove:unmade');
      if (!unrecorded) await this.index.delete(id);
    });
  }

  async get(id: string, opts: { mountLabel?: string } = {}): Promise<string> {
    validateId(id);
    this.checkOpen();
    return this.mutex.with([id], async () => {
      const rec = this.complete(id);
      const path = await this.mountHere(id, opts.mountLabel);
      await this.index.update(id, { mounts: rec.mounts + 1 });
      return path;
    });
  }

  /** The layer's mounted path, mounting it through the backend when this process has not. */
  private async mountHere(id: string, mountLabel?: string): Promise<string> {
    let path = this.mountedHere.get(id);
    if (path === undefined) {
      path = await this.backend.mount(id, mountLabel);
      this.mountedHere.set(id, path);
    }
    return path;
  }

  /** Unmounts `id` when nothing holds it any more: no reference, no lease. Under the id's mutex. */
  private async unmountIfUnused(id: string): Promise<void> {
    if ((this.index.get(id)?.mounts ?? 0) > 0 || this.leases.held(id) > 0) return;
    await this.backend.unmount(id);
    this.mountedHere.delete(id);
  }

  /**
   * A transient reference for an operation of this process (store/leases.ts): the layer is
   * mounted and busy until `release`, which counts down at once and finishes on disk later.
   */
  async lease(id: string): Promise<Lease> {
    validateId(id);
    this.checkOpen();
    if (this.closing) throw new Error(`${this.name} driver at ${this.home} is closing: no new lease on ${id}`);
    // Tracked like a release: close() waits for a lease on its way to the record, so that
    // dropOwnLeases sees it (an interrupted export's diff can still be taking one when the
    // command gives up and closes the driver; the lease then outlived the process).
    const acquiring = this.mutex.with([id], async () => {
      const rec = this.complete(id);
      const p = await this.mountHere(id);
      const n = this.leases.take(id);
      await this.index.update(id, { leases: this.leases.recorded(rec, n) }).catch((err) => {
        this.leases.drop(id);
        throw err;
      });
      return p;
    });
    this.leases.track(acquiring);
    const path = await acquiring;
    let released: Promise<void> | undefined;
    return {
      path,
      release: () => {
        if (released) return released;
        const n = this.leases.drop(id);
        released = this.mutex.with([id], async () => {
          if (this.closed) return; // close() took this driver's leases out of the records
          const rec = this.index.get(id);
          if (!rec) return;
          await this.index.update(id, { leases: this.leases.recorded(rec, n) });
          await this.unmountIfUnused(id);
        });
        this.leases.track(released);
        return released;
      },
    };
  }

  async put(id: string): Promise<void> {
    validateId(id);
    // The last reference going: what was written through get is in by now, so the layer's
    // size is measured (while it is still mounted) and recorded with the release.
    const before = this.index.get(id);
    const measured = before?.mounts === 1 && before.state === 'complete';
    const size = measured ? await this.measureSize(id, before.parent) : undefined;
    const unmeasured = await this.mutex.with([id], async () => {
      const rec = this.index.get(id);
      if (!rec) throw errLayerNotFound(id);
      if (rec.mounts <= 0) return false; // Docker tolerates an unbalanced Put
      const mounts = rec.mounts - 1;
      const last = mounts === 0 && rec.state === 'complete';
      await this.index.update(id, last && measured ? { mounts, size } : { mounts });
      if (mounts === 0) await this.unmountIfUnused(id);
      return last && !measured;
    });
    // puts that ran side by side, none of which saw itself last: measured after the release
    if (unmeasured) {
      const after = await this.measureSize(id, before?.parent ?? null);
      await this.mutex
        .with([id], async () => {
          if (this.index.get(id)?.state === 'complete') await this.index.update(id, { size: after });
        })
        .catch(() => {}); // the reference is released; a size that cannot be written stays unknown
    }
  }

  /**
   * What the layer adds to its parent, or undefined when it cannot be measured: a layer
   * then keeps no size rather than a wrong one, and put itself never fails for it.
   */
  private async measureSize(id: string, parent: string | null): Promise<number | undefined> {
    return this.measure?.(id, parent).catch(() => undefined);
  }

  async exists(id: string): Promise<boolean> {
    validateId(id);
    return this.index.get(id)?.state === 'complete';
  }

  async list(): Promise<string[]> {
    return this.index
      .all()
      .filter((r) => r.state === 'complete')
      .map((r) => r.id)
      .sort();
  }

  async status(): Promise<Array<[string, string]>> {
    return this.backend.status();
  }

  async getMetadata(id: string): Promise<Record<string, string>> {
    validateId(id);
    const rec = this.index.get(id);
    if (!rec) throw errLayerNotFound(id);
    const meta = await this.backend.metadata(id);
    if (rec.state !== 'complete') meta.Incomplete = 'true';
    return meta;
  }

  /** Layer record for tools (the CLI's ls): parent, creation time, mounts. */
  record(id: string): LayerRecord | undefined {
    return this.index.get(id);
  }

  async applyDiff(id: string, _parent: string | null | undefined, diff: LayerStream, opts: ApplyDiffOptions = {}): Promise<number> {
    validateId(id);
    // refused before the layer is touched: a wrong argument must not cost the layer
    if (typeof (diff as Partial<AsyncIterable<Uint8Array>> | null)?.[Symbol.asyncIterator] !== 'function') {
      throw errInvalidOption(`apply diff to ${id}: the diff must be a readable stream or an async iterable of bytes`);
    }
    this.checkOpen();
    throwIfAborted(opts.signal, `apply diff to ${id}`); // before the layer is touched
    await this.mutex.with([id], async () => {
      this.complete(id);
      if (this.leases.held(id) > 0) throw errLayerBusy(id, 'a diff or change list of this process is reading it');
      const children = this.index.children(id);
      if (children.length) throw errLayerBusy(id, `it has child layers: ${children.join(', ')}`);
      // Until it finishes the layer is not complete: a crash now leaves it to be swept at init.
      await this.index.update(id, { state: 'applying' });
      this.applyingNow.add(id);
    });
    try {
      return await this.unpack(id, diff, opts);
    } finally {
      this.applyingNow.delete(id);
    }
  }

  /**
   * Mounts the layer for its own applyDiff without counting a reference (so a failed apply,
   * even on a full disk where no record can be written, leaves no reference behind), then
   * unpacks and marks it complete.
   */
  private async unpack(id: string, diff: LayerStream, opts: ApplyDiffOptions): Promise<number> {
    faultPoint('apply:marked');
    // An untouched fs.ReadStream is read directly here, before the abort wrapper would hide
    // it from applyLayer (fs/file-chunks.ts): its chunks are then valid until the next is read.
    const source = abortableSource(directSource(diff as AsyncIterable<Uint8Array>), opts.signal, `apply diff to ${id}`);
    // aborted: whatever the unpacker made of its source stopping, the abort is the cause
    const failure = (err: unknown) =>
      opts.signal?.aborted && !isAbortError(err)
        ? abortError(opts.signal, `apply diff to ${id}`)
        : asStorageError(err, `apply diff to ${id}`);
    const applyOptions = {
      ignoreChownErrors: this.options.ignoreChownErrors,
      idMappings: this.options.idMappings,
      onProgress: opts.onProgress,
    };
    if (this.backend.applyDiff) {
      // The backend writes its storage directly: nothing to mount.
      try {
        const n = await this.backend.applyDiff(id, source, applyOptions);
        faultPoint('apply:unpacked');
        await this.mutex.with([id], () => this.index.update(id, { state: 'complete', diffSize: n, size: n }));
        return n;
      } catch (err) {
        throw failure(err);
      }
    }
    const path = await this.mutex.with([id], async () => {
      let p = this.mountedHere.get(id);
      if (p === undefined) {
        p = await this.backend.mount(id);
        this.mountedHere.set(id, p);
      }
      return p;
    });
    // the caller's own get() keeps it mounted
    const release = () => this.mutex.with([id], () => this.unmountIfUnused(id));
    faultPoint('apply:mounted');
    try {
      const n = await applyLayer(path, source, applyOptions);
      faultPoint('apply:unpacked');
      await release();
      faultPoint('apply:released');
      await this.mutex.with([id], () => this.index.update(id, { state: 'complete', diffSize: n, size: n }));
      return n;
    } catch (err) {
      // The layer keeps state 'applying': reported incomplete, never listed, swept at init.
      await release().catch(() => {});
      throw failure(err);
    }
  }

  /** Releases the home lock and nothing else: mounts and their references stay as they are. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.leases.settled();
    await this.dropOwnLeases();
    this.closed = true;
    await this.lock.release();
  }

  /**
   * Takes this driver's leases out of the records when it lets go of the home: an operation
   * still holding one (a diff stream its caller abandoned, an interrupted transfer) ends with
   * the driver, and must not be left behind looking like a process that died.
   */
  private async dropOwnLeases(): Promise<void> {
    for (const rec of this.index.all()) {
      if (rec.leases?.[this.leases.owner] === undefined) continue;
      await this.mutex
        .with([rec.id], async () => {
          const now = this.index.get(rec.id);
          if (now) await this.index.update(rec.id, { leases: this.leases.recorded(now, 0) });
        })
        .catch(() => {});
    }
  }

  async cleanup(): Promise<void> {
    if (this.closed) return;
    await this.leases.settled();
    for (const rec of this.index.all()) {
      if (rec.mounts > 0 || this.mountedHere.has(rec.id)) {
        await this.backend.unmount(rec.id);
        if (rec.mounts > 0) await this.index.update(rec.id, { mounts: 0 });
      }
    }
    this.mountedHere.clear();
    faultPoint('cleanup:unmounted');
    await this.backend.cleanup();
    this.closed = true;
    await this.lock.release();
  }

  /** Problems of the store now (store/check.ts), after those recovery mended at init. */
  async check(): Promise<StoreProblem[]> {
    this.checkOpen();
    await this.leases.settled();
    return [...this.recoveredAtOpen, ...(await inspectStore(this))];
  }

  /** Mends what `check` finds (store/check.ts) and returns every problem, marked repaired or not. */
  async repair(): Promise<StoreProblem[]> {
    this.checkOpen();
    await this.leases.settled();
    const found = await inspectStore(this);
    const done = await repairStore(this, found);
    return [...this.recoveredAtOpen, ...done];
  }

  isApplying(id: string): boolean {
    return this.applyingNow.has(id);
  }

  /** Removes `id` whatever its state or references (repair's tool). Under the id's mutex. */
  async drop(id: string): Promise<void> {
    await this.mutex.with([id], async () => {
      if (this.leases.held(id) > 0 || this.applyingNow.has(id)) throw errLayerBusy(id, 'in use by this process');
      await this.backend.unmount(id).catch(() => {});
      this.mountedHere.delete(id);
      await this.backend.remove(id);
      await this.index.delete(id);
    });
  }

  /** Sets fields of a record under its mutex (repair's tool). */
  async amend(id: string, patch: Partial<LayerRecord>): Promise<void> {
    await this.mutex.with([id], async () => {
      if (this.index.get(id)) await this.index.update(id, patch);
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.name} driver at ${this.home} was cleaned up; initialise it again`);
  }
}

/** Whole seconds since the epoch of a record's creation (0 without one). */
function createdSeconds(rec: LayerRecord | undefined): number {
  const ms = rec ? Date.parse(rec.created) : Number.NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

function sortChildrenFirst(recs: LayerRecord[], index: LayerIndex): LayerRecord[] {
  const depth = (r: LayerRecord): number => {
    let d = 0;
    for (let p = r.parent; p && d < 10_000; p = index.get(p)?.parent ?? null) d++;
    return d;
  };
  return [...recs].sort((a, b) => depth(b) - depth(a));
}

/**
 * The full Driver over a backend: the store's life (LayerProtoDriver) plus diffs, where
 * `changes`, `diff` and `diffSize` use the backend's native diff when it has one and the
 * naive diff otherwise. Every diff stream, native or naive, is wrapped once in the stream guard.
 */
export class LayerDriver implements Driver {
  readonly name: string;
  private readonly naive: Driver;

  /** Opens and recovers the store first (createLayerDriver calls this). */
  static async open(home: string, backend: LayerBackend, options: LayerDriverOptions = {}): Promise<LayerDriver> {
    return new LayerDriver(await openStore(home, backend, options), backend);
  }

  private constructor(
    private readonly store: LayerProtoDriver,
    private readonly backend: LayerBackend,
  ) {
    this.name = store.name;
    this.naive = naiveDiffDriverWithApply(store);
    store.measure = (id, parent) => this.diffSize(id, parent);
  }

  create(id: string, parent?: string | null, opts?: CreateOpts): Promise<void> {
    return this.store.create(id, parent, opts);
  }
  createReadWrite(id: string, parent?: string | null, opts?: CreateOpts): Promise<void> {
    return this.store.createReadWrite(id, parent, opts);
  }
  remove(id: string, opts?: RemoveOptions): Promise<void> {
    return this.store.remove(id, opts);
  }
  get(id: string, opts?: { mountLabel?: string }): Promise<string> {
    return this.store.get(id, opts);
  }
  put(id: string): Promise<void> {
    return this.store.put(id);
  }
  exists(id: string): Promise<boolean> {
    return this.store.exists(id);
  }
  list(): Promise<string[]> {
    return this.store.list();
  }
  status(): Promise<Array<[string, string]>> {
    return this.store.status();
  }
  getMetadata(id: string): Promise<Record<string, string>> {
    return this.store.getMetadata(id);
  }
  cleanup(): Promise<void> {
    return this.store.cleanup();
  }
  close(): Promise<void> {
    return this.store.close();
  }
  record(id: string): LayerRecord | undefined {
    return this.store.record(id);
  }
  check(): Promise<StoreProblem[]> {
    return this.store.check();
  }
  repair(): Promise<StoreProblem[]> {
    return this.store.repair();
  }

  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number> {
    return this.store.applyDiff(id, parent, diff, opts);
  }

  async changes(id: string, parentArg?: string | null): Promise<Change[]> {
    const parent = normalizeParent(parentArg);
    // a native diff mounts nothing: the layers are checked as get would
    if (this.backend.changes) this.store.checkReadable(id, parent);
    return (await this.backend.changes?.(id, parent)) ?? this.naive.changes(id, parent);
  }

  async diff(id: string, parentArg?: string | null, opts: DiffOptions = {}): Promise<Readable> {
    const parent = normalizeParent(parentArg);
    throwIfAborted(opts.signal, `diff ${id}`);
    const started = Date.now();
    if (this.backend.diff) this.store.checkReadable(id, parent);
    // Whiteouts carry the layer's creation time, never the export's: the same layer, the same tar.
    const whiteoutTime = opts.whiteoutTime ?? createdSeconds(this.store.record(id));
    const native = await this.backend.diff?.(id, parent, { whiteoutTime });
    return native
      ? guardDiffStream(native, started, undefined, opts.signal, opts.waitNextSecond)
      : this.naive.diff(id, parent, { ...opts, whiteoutTime });
  }

  async diffSize(id: string, parentArg?: string | null): Promise<number> {
    const parent = normalizeParent(parentArg);
    if (this.backend.diffSize) {
      this.store.checkReadable(id, parent);
      const native = await this.backend.diffSize(id, parent);
      if (native !== undefined) return native;
    }
    return layerChangesSize(this.store, id, await this.changes(id, parent));
  }
}
