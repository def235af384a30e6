// What a driver package implements: only the storage-specific part of a layer's life.
// The rules a backend author follows are on LayerBackend below (they are part of the API
// reference).
import type { Readable } from 'node:stream';
import type { Change, LayerStream } from '../driver.js';
import type { ApplyOptions } from '../diff/apply.js';

/** What {@link LayerBackend.create} is told about the new layer. */
export interface BackendCreateOpts {
  /** A read-write (container) layer, from `createReadWrite`; false for an image layer. */
  rw: boolean;
  /** Storage options, keys lower-cased and checked against `storageOptions`. */
  storageOpt: Record<string, string>;
  /** SELinux label asked for the layer's mounts; a backend may ignore it. */
  mountLabel?: string;
}

/** What core's LayerDriver hands a backend's native `diff`. */
export interface BackendDiffOptions {
  /** Seconds since the epoch for whiteout entries (the layer's creation, or SOURCE_DATE_EPOCH). */
  whiteoutTime: number;
}

/**
 * What a driver package implements: only the storage-specific part of a layer's life, turned
 * into a full {@link Driver} by {@link createLayerDriver}. Ids, parents, states, references,
 * locking, crash recovery and the naive diff are core's, so every driver behaves the same at
 * those edges. The rules a backend follows:
 *
 * - `create`, `remove`, `mount` and `unmount` of one id never overlap (core serialises them
 *   per id); calls on different ids may run concurrently. `open` and `recover` run once, at
 *   init, before anything else; `cleanup` last.
 * - `create` and `remove` must leave nothing half made under `id` that `recover` could
 *   mistake for a layer; `recover` is given every id the index knows and deletes the rest.
 * - `mount`/`unmount` are called at the first and last reference only; both idempotent.
 * - A backend never throws for an id it does not know in `remove`/`unmount`.
 * - Errors are {@link GraphDriverError}s: ENOSPC/EDQUOT wrapped by {@link asStorageError},
 *   external programs run through {@link tool}.
 */
export interface LayerBackend {
  /** The driver's name, as registered and shown by `status` ("vfs", "btrfs"). */
  readonly name: string;
  /** Storage option keys `create` accepts (e.g. ['size']). */
  readonly storageOptions: readonly string[];
  /**
   * Optional set-up that must run while the home is locked and before crash recovery
   * (attach devices, start pools, make mounts private). Called once by createLayerDriver.
   */
  open?(): Promise<void>;
  /**
   * Makes layer `id`, a copy or snapshot of `parent`, or empty. Must be atomic: nothing is
   * visible under `id` unless it completed (build under a temporary name, then rename).
   */
  create(id: string, parent: string | null, opts: BackendCreateOpts): Promise<void>;
  /** Deletes everything of `id`. A layer that is already gone is not an error. */
  remove(id: string): Promise<void>;
  /** Makes the layer's root available and returns its absolute path. Idempotent. */
  mount(id: string, mountLabel?: string): Promise<string>;
  /** Releases what `mount` made available; called at the last reference. Idempotent. */
  unmount(id: string): Promise<void>;
  /** Key/value lines describing the backing store (Docker's `docker info` "Storage Driver" block). */
  status(): Promise<Array<[string, string]>>;
  /** Driver-specific facts about layer `id` (Docker's GetMetadata), e.g. its device or dataset. */
  metadata(id: string): Promise<Record<string, string>>;
  /**
   * After a crash: deletes what is not one of `keep` (temporary names, orphans, stale mounts).
   * May return what it deleted (paths or names), which `check` reports as mended at open.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a backend that reports nothing keeps its Promise<void> recover
  recover(keep: ReadonlySet<string>): Promise<void | string[]>;
  /** Whether `id`'s data is there, for `check`; without it, check cannot tell missing data. */
  exists?(id: string): Promise<boolean>;
  /** Releases everything (mounts, devices); the driver may be initialised again afterwards. */
  cleanup(): Promise<void>;

  /** Native change list between two mounted layers, or undefined to use the naive diff. */
  changes?(id: string, parent: string | null): Promise<Change[] | undefined>;
  /**
   * Native layer tar, or undefined to use the naive diff. Whiteout entries take
   * `opts.whiteoutTime` (pass it to core's exportChanges).
   */
  diff?(id: string, parent: string | null, opts: BackendDiffOptions): Promise<Readable | undefined>;
  /** Native diffSize, or undefined to size the (native or naive) change list on the mounted layer. */
  diffSize?(id: string, parent: string | null): Promise<number | undefined>;
  /**
   * Native apply, writing the layer's storage directly (overlay's upper dir): the layer is
   * not mounted for it. `opts` are what core's applyLayer would be given. A chunk of `diff`
   * may be overwritten once the next is read (a file read into reused buffers): hand it to
   * applyLayer, or copy what is kept.
   */
  applyDiff?(id: string, diff: LayerStream, opts: ApplyOptions): Promise<number>;
}
