// The driver contract, after moby's daemon/graphdriver (ProtoDriver, DiffDriver, Driver).
import type { Readable } from 'node:stream';
import type { ApplyProgress } from './diff/apply.js';
import type { LayerRecord } from './store/layer-index.js';

/** Kind of a change between two layers. Values match Docker's archive.ChangeType. */
export enum ChangeKind {
  Modify = 0,
  Add = 1,
  Delete = 2,
}

/** One changed path. `path` is "/"-rooted inside the layer, e.g. "/etc/motd". */
export interface Change {
  path: string;
  kind: ChangeKind;
}

const changeLetters = ['C', 'A', 'D'] as const;

/** Docker's textual form of a change: "C /etc/motd", "A /x", "D /y". */
export function formatChange(c: Change): string {
  return `${changeLetters[c.kind]} ${c.path}`;
}

export interface CreateOpts {
  mountLabel?: string;
  /** Per-layer options, e.g. `{ size: '50M' }`. */
  storageOpt?: Record<string, string>;
}

/** A layer tarball as accepted by applyDiff: a Node stream or any async byte iterable. */
export type LayerStream = Readable | AsyncIterable<Uint8Array>;

export interface ProtoDriver {
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
  /** Release one reference taken by `get`. */
  put(id: string): Promise<void>;
  exists(id: string): Promise<boolean>;
  /** Ids of complete layers. */
  list(): Promise<string[]>;
  status(): Promise<Array<[string, string]>>;
  getMetadata(id: string): Promise<Record<string, string>>;
  /** Release everything the driver holds (mounts, devices). */
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
}

export interface DiffDriver {
  /**
   * An uncompressed Docker layer tar of `id` against `parent` (everything when no parent).
   * The stream holds the layer until it ends or is destroyed: a reader that stops early must
   * destroy it (pipeline does), which releases the layer at once.
   */
  diff(id: string, parent?: string | null, opts?: DiffOptions): Promise<Readable>;
  changes(id: string, parent?: string | null): Promise<Change[]>;
  /** Unpack a layer tar into `id`; returns the sum of the entries' sizes. */
  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number>;
  diffSize(id: string, parent?: string | null): Promise<number>;
}

/** What the layer store knows of a layer: parent, creation time, rw, state, mounts, size. */
export interface LayerInfo {
  record(id: string): LayerRecord | undefined;
}

export interface Driver extends ProtoDriver, DiffDriver, Partial<LayerInfo> {
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
  containerId: number;
  hostId: number;
  size: number;
}

export interface IdMappings {
  uidMap: IdMap[];
  gidMap: IdMap[];
}

export type InitFunc = (home: string, options: string[], idMappings?: IdMappings) => Promise<Driver>;

export interface DriverConfig {
  root: string;
  driverOptions?: string[];
  idMappings?: IdMappings;
}
