// The driver contract, after moby's daemon/graphdriver (ProtoDriver, DiffDriver, Driver) and
// documented the way containerd documents its Snapshotter (core/snapshots/snapshotter.go).
// This file imports nothing: every type the contract names is defined here.
//
// # Layers
//
// A layer is a directory tree named by an `id` (any string of 1..255 bytes without "/" or
// NUL, not "." or ".."; anything else is ERR_INVALID_ID). It is made as a copy-on-write child
// of at most one `parent`, an image layer (`create`, read-only by convention) or a container
// layer (`createReadWrite`). A layer's tree is reached through `get`, which returns the path of
// its root, and released with `put`. `applyDiff` unpacks a Docker layer tar into it; `diff`,
// `changes` and `diffSize` describe how it differs from its parent.
//
// # States
//
// Every layer of a store made by `createLayerDriver` has a record (`LayerRecord`) whose
// `state` moves along
//
//     create/createReadWrite          applyDiff                 remove
//   ─────────────────────▶ creating ──▶ complete ──▶ applying ──▶ complete ──▶ removing ──▶ (gone)
//
// Only a `complete` layer exists for callers: `exists`, `list`, `get`, `diff`, `changes`,
// `diffSize` and a child's `create` see it. `creating`, `applying` and `removing` mean an
// operation is under way in the process holding the store; found at init (the operation was
// cut short by a crash or a kill), they mean "half done" and the layer is swept (below).
//
// # References
//
// `get` counts a reference and `put` releases one; the backend mounts (or otherwise makes
// available) the layer at the first reference and unmounts it at the last. The count lives
// in the record, so it survives the process: a `get` in one process may be matched by a `put`
// in a later one (the CLI's `mount` and `umount`), as long as the first ends with `close`,
// not `cleanup`. An extra `put` is tolerated, as in Docker. A layer with references cannot be
// removed (unless `remove(id, { force: true })`, which releases them), nor can one with
// children or one a diff is being applied to or read from (ERR_LAYER_BUSY).
// `diff`, `changes` and `diffSize` hold the layers they read with transient references
// (leases) of their own, counted in memory and not in `mounts`: a `diff` stream holds one
// until it ends or is destroyed and lets go of it at once either way, and a process that
// dies holding one leaves nothing counted. A lease is also written to the record under the
// driver's owner token, only as evidence: `check` reports one left by a process that ended
// as a stale reference, and `repair` drops it.
//
// # Sizes
//
// The record keeps `size`, what the layer adds to its parent: 0 when made, the applied size
// after `applyDiff` (as Docker's layer store), measured again when the last reference is put.
// Listing reads it; nothing walks a tree to list.
//
// # Concurrency
//
// One process owns a home at a time: init takes the store lock (a lock file naming the
// owner's pid and start time) and refuses a live owner with ERR_STORE_BUSY; a dead owner's
// lock is taken over. Inside the process, operations on one id (and on a parent while its
// child is made) are serialised; operations on different ids run concurrently. `cleanup` and
// `close` release the lock; the driver cannot be used afterwards.
//
// # Failure and recovery
//
// A failed operation leaves the store as it was and releases what it took:
// - `create` that fails removes what the backend made and the record: the id is free again.
// - `applyDiff` that fails (bad archive, full disk, an aborted `signal`) leaves the layer
//   `applying`: it is reported by `getMetadata` with `Incomplete: 'true'`, never listed nor
//   returned by `get`, and may only be removed. Its tree holds part of the tar. Long
//   operations (`applyDiff`, `diff` streams) take an AbortSignal and then fail with an
//   AbortError (ERR_ABORTED); a signal aborted before the call changes nothing.
// - `remove` that fails after marking the layer `removing` leaves it `removing`: it is gone
//   for callers and is finished at the next init.
// A crash or kill at any point leaves each record either the old or the new state (records
// are written atomically). Init then sweeps: every layer not `complete` is unmounted and
// removed, children first; the backend deletes whatever no record names (temporary names,
// orphans of a create cut short, stale mounts); interrupted atomic writes (`.tmp-` files)
// are deleted. A home this library did not make is refused (ERR_FOREIGN_HOME), never swept.
//
// # What each method may refuse
//
// Every refusal is a GraphDriverError with a stable code:
// - any id argument: ERR_INVALID_ID.
// - create/createReadWrite: ERR_LAYER_EXISTS, ERR_LAYER_NOT_FOUND (parent not complete),
//   ERR_INVALID_OPTION (unknown or malformed storage option), ERR_QUOTA_NOT_SUPPORTED
//   (a size on a backend that cannot enforce it), ERR_NO_SPACE.
// - remove: ERR_LAYER_NOT_FOUND, ERR_LAYER_BUSY (references unless forced, children, a diff under way).
// - get: ERR_LAYER_NOT_FOUND, ERR_LAYER_BUSY (a diff under way).
// - put, getMetadata: ERR_LAYER_NOT_FOUND.
// - applyDiff: ERR_LAYER_NOT_FOUND, ERR_LAYER_BUSY (children, another apply), ERR_INVALID_OPTION
//   (not a stream), ERR_INVALID_ARCHIVE / ERR_UNSAFE_ENTRY / ERR_UNSUPPORTED_ENTRY (the tar),
//   ERR_NO_SPACE, ERR_TOOL_FAILED.
// - diff/changes/diffSize: ERR_LAYER_NOT_FOUND, ERR_LAYER_BUSY; diff: ERR_ABORTED.
// - applyDiff with a signal: ERR_ABORTED.
// - init (registry `getDriver`, a package's `init`): ERR_PREREQUISITES / ERR_NOT_SUPPORTED /
//   ERR_INCOMPATIBLE_FS (this driver cannot run here), ERR_INVALID_OPTION, ERR_STORE_BUSY,
//   ERR_FOREIGN_HOME.
//
// # Example
//
//   const driver = await getDriver('vfs', { root: '/var/lib/layers' });
//   await driver.create('base', null);                       // creating -> complete
//   await driver.applyDiff('base', null, createReadStream('base.tar')); // applying -> complete
//   await driver.createReadWrite('ctr', 'base');             // a container layer on top
//   const root = await driver.get('ctr');                    // 1 reference: mounted
//   await writeFile(join(root, 'hello'), 'world');
//   await driver.put('ctr');                                 // 0 references: unmounted
//   const tar = await driver.diff('ctr', 'base');            // "A /hello" as a layer tar
//   await driver.remove('ctr');                              // removing -> gone
//   await driver.cleanup();                                  // unmount all, release the lock

import type { Readable } from 'node:stream';

/** Kind of a change between two layers. Values match Docker's archive.ChangeType. */
export enum ChangeKind {
  /** The path exists on both sides and its content, metadata or type differ ("C"). */
  Modify = 0,
  /** The path exists only in the newer layer ("A"). */
  Add = 1,
  /** The path exists only in the parent; a layer tar carries it as a whiteout ("D"). */
  Delete = 2,
}

/** One changed path. `path` is "/"-rooted inside the layer, e.g. "/etc/motd". */
export interface Change {
  /** Absolute inside the layer, "/"-separated, without a trailing slash: "/etc/motd". */
  path: string;
  /** What happened to the path. */
  kind: ChangeKind;
}

const changeLetters = ['C', 'A', 'D'] as const;

/** Docker's textual form of a change: "C /etc/motd", "A /x", "D /y". */
export function formatChange(c: Change): string {
  return `${changeLetters[c.kind]} ${c.path}`;
}

/** Options of `create` and `createReadWrite`. */
export interface CreateOpts {
  /** SELinux label for the layer's mounts; accepted and passed to the backend, which may ignore it. */
  mountLabel?: string;
  /** Per-layer options, e.g. `{ size: '50M' }`; keys the backend does not accept are ERR_INVALID_OPTION. */
  storageOpt?: Record<string, string>;
}

/** A layer tarball as accepted by applyDiff: a Node stream or any async byte iterable. */
export type LayerStream = Readable | AsyncIterable<Uint8Array>;

/** Running totals of one applyDiff, reported while the tar is unpacked. */
export interface ApplyProgress {
  /** Archive entries handled so far (whiteouts and skipped metadata included). */
  entries: number;
  /** Sum of the handled entries' header sizes (the running return value). */
  bytes: number;
}

/**
 * Where a layer is in its life (see "States" above). Anything but `complete`, found at init,
 * is an operation cut short and is swept.
 */
export type LayerState = 'creating' | 'complete' | 'applying' | 'removing';

/** The store's record of one layer, as `LayerInfo.record` returns it. */
export interface LayerRecord {
  /** The layer's id, as given to `create`. */
  id: string;
  /** Id of the parent layer, or null for a base layer. */
  parent: string | null;
  /** Made by createReadWrite (a container layer). */
  rw: boolean;
  /** Only `complete` layers are usable; the others are operations in flight or cut short. */
  state: LayerState;
  /** ISO time of creation. */
  created: string;
  /** References taken by get() and not yet released by put(), across processes. */
  mounts: number;
  /** The storage options the layer was made with (keys lower-cased). */
  storageOpt?: Record<string, string>;
  /** Bytes reported by the last applyDiff. */
  diffSize?: number;
  /**
   * Bytes the layer adds to its parent, recorded when it is made (0), applied (the applied
   * size) and when its last reference is put (measured then), so that listing never walks a
   * tree. Absent in records older than this field.
   */
  size?: number;
  /**
   * Transient references of operations (diff streams, change lists) by owner token
   * (store/leases.ts): evidence of a process that died holding one; they never keep a layer busy.
   */
  leases?: Record<string, number>;
}

/** The storage half of a driver: layers, their trees and their references. */
export interface ProtoDriver {
  /** The driver's registered name ("vfs", "btrfs", ...). */
  readonly name: string;
  /** Create an image layer `id` on top of `parent` (or empty). */
  create(id: string, parent?: string | null, opts?: CreateOpts): Promise<void>;
  /** Create a container (read-write) layer `id` on top of `parent`. */
  createReadWrite(id: string, parent?: string | null, opts?: CreateOpts): Promise<void>;
  /**
   * Deletes layer `id`. Refused (ERR_LAYER_BUSY) while it has children, while a diff is
   * applied to it or read from it in this process, and while `get` references are counted,
   * unless `opts.force` is set: then those references are released and the layer removed.
   */
  remove(id: string, opts?: RemoveOptions): Promise<void>;
  /** Make the layer available and return the absolute path of its root. Reference counted. */
  get(id: string, opts?: { mountLabel?: string }): Promise<string>;
  /** Release one reference taken by `get`; the last one unmounts. */
  put(id: string): Promise<void>;
  /** True when `id` is a complete layer. */
  exists(id: string): Promise<boolean>;
  /** Ids of complete layers, sorted. */
  list(): Promise<string[]>;
  /** Name/value lines describing the driver and its backing store (`docker info`'s). */
  status(): Promise<Array<[string, string]>>;
  /** Backend facts about one layer (paths, devices, datasets); `Incomplete: 'true'` when not complete. */
  getMetadata(id: string): Promise<Record<string, string>>;
  /** Release everything the driver holds (mounts, devices) and the store lock. */
  cleanup(): Promise<void>;
}

/** Options of remove. */
export interface RemoveOptions {
  /**
   * Remove the layer even though `get` references are counted on it (a CLI `mount` nobody
   * undid, a process that died between get and put): they are released with it. Children
   * and operations in flight in this process still refuse it.
   */
  force?: boolean;
}

/** Options of one applyDiff call. */
export interface ApplyDiffOptions {
  /** Running totals while the tar is unpacked (not called by a backend's native apply). */
  onProgress?: (p: ApplyProgress) => void;
  /**
   * Stops the apply: it rejects with an `AbortError` (name 'AbortError', code ERR_ABORTED,
   * the signal's reason as `cause`) and reads no more of the diff. A signal aborted before
   * the call leaves the layer untouched. Aborted while unpacking, the layer is left as any
   * failed apply leaves it: incomplete (never listed, `exists` false, no references held),
   * removable with `remove`, and swept by the next open of the store.
   */
  signal?: AbortSignal;
}

/** Options of one diff call. */
export interface DiffOptions {
  /**
   * Destroys the returned stream with an `AbortError` (ERR_ABORTED) when it fires; aborted
   * before the call, diff rejects with it and takes nothing. Either way, as when the stream
   * ends or the caller destroys it, the layers the diff held are released at once.
   */
  signal?: AbortSignal;
  /**
   * Seconds since the epoch for the tar's whiteout entries (deletions have no file to take a
   * time from). Default: the layer's creation time from its record, so the same layer always
   * gives the same tar. An image export passes SOURCE_DATE_EPOCH here when it is set.
   */
  whiteoutTime?: number;
  /**
   * Whether the stream ends no earlier than the second after the call (default true), as
   * moby's NaiveDiffDriver sleeps: layers unpacked from tars carry whole-second mtimes, so an
   * edit made to the layer right after the diff, in the same second, could be invisible to
   * the next one. false ends it with the tar: for a caller that makes no such edit (an image
   * export or push reads layers that stay as they are).
   */
  waitNextSecond?: boolean;
}

/** The diff half of a driver: layer tars in and out, and what changed. */
export interface DiffDriver {
  /**
   * An uncompressed Docker layer tar of `id` against `parent` (everything when no parent).
   * The stream holds `id` until it ends or is destroyed, and lets go of it at once either
   * way (a reader that stops early must destroy it; pipeline does). It ends no earlier than
   * the second after the call (so an edit made later is seen by the next diff), unless
   * `opts.waitNextSecond` is false.
   */
  diff(id: string, parent?: string | null, opts?: DiffOptions): Promise<Readable>;
  /** The paths that differ between `id` and `parent` (every path when no parent), sorted. */
  changes(id: string, parent?: string | null): Promise<Change[]>;
  /** Unpack a layer tar into `id`; returns the sum of the entries' sizes. */
  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number>;
  /** Bytes of the files `changes` reports as added or modified. */
  diffSize(id: string, parent?: string | null): Promise<number>;
}

/** What the layer store knows of a layer: parent, creation time, rw, state, mounts, size. */
export interface LayerInfo {
  /** The record of `id` whatever its state, or undefined when the store has none. */
  record(id: string): LayerRecord | undefined;
}

/** A full graph driver: what `getDriver` and every driver package's `init` return. */
export interface Driver extends ProtoDriver, DiffDriver {
  /**
   * The store's record of `id` whatever its state, or undefined when it has none. Present on
   * every driver made by {@link createLayerDriver}; call it through {@link layerRecord}.
   */
  record?(id: string): LayerRecord | undefined;
  /**
   * Lets go of the home (its lock) but, unlike cleanup, leaves layers mounted and their
   * references counted, for a tool whose `get` in one process is matched by a `put` in a
   * later one. The driver cannot be used afterwards.
   */
  close?(): Promise<void>;
  /**
   * Verifies every layer record against the backend: data present, parent recorded, sane
   * references, no stale leases, no stray data (store/check.ts). Changes nothing; the result
   * also lists what recovery already mended when the store was opened (`repaired: true`).
   */
  check?(): Promise<StoreProblem[]>;
  /** Mends what check finds where it can; returns every problem with `repaired` set or not. */
  repair?(): Promise<StoreProblem[]>;
}

/** Kinds of damage `check` reports. */
export type StoreProblemKind =
  /** the record is there, the layer's data is not (repair: drop it and its children) */
  | 'missing-data'
  /** the record names a parent that has no record (repair: drop it and its children) */
  | 'missing-parent'
  /** an apply, create or removal never finished (repair: remove it) */
  | 'incomplete'
  /** a reference count that is not a whole number >= 0 (repair: set to 0) */
  | 'bad-references'
  /** references left in the record by an operation of a process that ended (repair: drop them) */
  | 'stale-references'
  /** data or files in the store that no record knows (repair: remove them) */
  | 'stray';

/** One problem `check` found. */
export interface StoreProblem {
  /** What is wrong; decides what repair does. */
  kind: StoreProblemKind;
  /** The layer concerned, when it is one. */
  id?: string;
  /** The file concerned, for strays. */
  path?: string;
  /** One line for people. */
  message: string;
  /** What repair does (or did) about it. */
  repair: string;
  /** Set by repair (and by recovery at open) once mended. */
  repaired?: boolean;
}

/** The store's record of `id`, for drivers that keep one (all made by createLayerDriver). */
export function layerRecord(driver: Driver, id: string): LayerRecord | undefined {
  return driver.record?.(id);
}

/** Releases the driver without unmounting anything: `close` where it has one. */
export async function closeDriver(driver: Driver): Promise<void> {
  await driver.close?.();
}

/** One range of a user-namespace id mapping (container id -> host id). */
export interface IdMap {
  /** First id of the range as seen inside the container. */
  containerId: number;
  /** The host id that `containerId` maps to. */
  hostId: number;
  /** How many consecutive ids the range covers (at least 1). */
  size: number;
}

/** User-namespace mappings (Docker's UIDMaps/GIDMaps): container ids to host ids. */
export interface IdMappings {
  /** User id ranges; an id no range covers has no host owner. */
  uidMap: IdMap[];
  /** Group id ranges, read like `uidMap`. */
  gidMap: IdMap[];
}

/** A driver package's constructor: opens (or makes) the store at `home` with its `options`. */
export type InitFunc = (home: string, options: string[], idMappings?: IdMappings) => Promise<Driver>;

/** What `getDriver` is given: where the store lives and how to open it. */
export interface DriverConfig {
  /** Directory under which each driver keeps its home (`root/<name>`). */
  root: string;
  /** `key=value` driver options, e.g. `btrfs.min_space=1G`. */
  driverOptions?: string[];
  /** User-namespace remapping; layers' roots are then owned by the host ids of container root. */
  idMappings?: IdMappings;
}
