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
  remove(id: string): Promise<void>;
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

/** Options of one applyDiff call. */
export interface ApplyDiffOptions {
  /** Running totals while the tar is unpacked (not called by a backend's native apply). */
  onProgress?: (p: ApplyProgress) => void;
}

export interface DiffDriver {
  /** An uncompressed Docker layer tar of `id` against `parent` (everything when no parent). */
  diff(id: string, parent?: string | null): Promise<Readable>;
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
