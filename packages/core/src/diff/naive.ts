// Docker's NaiveDiffDriver: diff, changes and sizes of any ProtoDriver by comparing the
// mounted trees of a layer and its parent. Every layer taken is let go of, on success, on
// error, and the moment a diff stream ends or is destroyed. A driver with `lease` (the
// layer store) gives transient references that a dying process cannot leave counted; any
// other ProtoDriver is taken with get and let go of with put. LayerDriver
// (store/layer-driver.ts) uses it wherever a backend has no native diff.
import type { Readable } from 'node:stream';
import { throwIfAborted } from '../abort.js';
import type {
  ApplyDiffOptions,
  Change,
  DiffOptions,
  Driver,
  LayerInfo,
  LayerRecord,
  LayerStream,
  ProtoDriver,
  RemoveOptions,
} from '../driver.js';
import { normalizeParent } from '../ids.js';
import { applyLayer, type ApplyOptions } from './apply.js';
import { changesDirs } from './changes.js';
import { exportChanges, tarDirectory } from './export.js';
import { changesSize } from './size.js';
import { guardDiffStream } from './stream-guard.js';

/** A layer mounted for one operation: `path` until `release` (idempotent). */
export interface Lease {
  /** Where the layer's tree is readable until `release`. */
  path: string;
  /** Gives the reference back; calling it again does nothing and resolves alike. */
  release(): Promise<void>;
}

/** A ProtoDriver that can hand out transient references (store/leases.ts). */
export interface LeasingProtoDriver extends ProtoDriver {
  /**
   * Mounts `id` for one operation; the reference is not counted in the record for other
   * processes, and dies with this one. Rejects ERR_LAYER_NOT_FOUND for an unknown id.
   */
  lease?(id: string): Promise<Lease>;
}

/** Mounts `id` for one operation: a lease where the driver has them, else get/put. */
async function take(proto: LeasingProtoDriver, id: string): Promise<Lease> {
  if (proto.lease) return proto.lease(id);
  const path = await proto.get(id);
  let released: Promise<void> | undefined;
  return { path, release: () => (released ??= proto.put(id)) };
}

/** A ProtoDriver with an applyDiff of its own (a layer store, which marks the layer `applying`). */
export interface ApplyDiffProtoDriver extends ProtoDriver {
  /** As {@link DiffDriver.applyDiff}: the driver's own unpacking, used instead of the naive one. */
  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number>;
}

/** Runs `fn` with `id` (and `parent`) mounted through `proto`, releasing them whatever happens. */
async function withLayers<T>(
  proto: LeasingProtoDriver,
  id: string,
  parent: string | null,
  fn: (dir: string, parentDir: string | null) => Promise<T>,
): Promise<T> {
  const layer = await take(proto, id);
  try {
    if (!parent) return await fn(layer.path, null);
    const base = await take(proto, parent);
    try {
      return await fn(layer.path, base.path);
    } finally {
      await base.release();
    }
  } finally {
    await layer.release();
  }
}

/** Bytes of the added and modified files of `changes`, read from layer `id` mounted through `proto`. */
export function layerChangesSize(proto: LeasingProtoDriver, id: string, changes: Change[]): Promise<number> {
  return withLayers(proto, id, null, (dir) => changesSize(dir, changes));
}

class NaiveDiffDriver implements Driver {
  constructor(
    private readonly proto: LeasingProtoDriver,
    private readonly applyOptions: ApplyOptions = {},
  ) {}

  get name() {
    return this.proto.name;
  }
  create(...a: Parameters<ProtoDriver['create']>) {
    return this.proto.create(...a);
  }
  createReadWrite(...a: Parameters<ProtoDriver['createReadWrite']>) {
    return this.proto.createReadWrite(...a);
  }
  remove(id: string, opts?: RemoveOptions) {
    return this.proto.remove(id, opts);
  }
  get(id: string, opts?: { mountLabel?: string }) {
    return this.proto.get(id, opts);
  }
  put(id: string) {
    return this.proto.put(id);
  }
  exists(id: string) {
    return this.proto.exists(id);
  }
  list() {
    return this.proto.list();
  }
  status() {
    return this.proto.status();
  }
  getMetadata(id: string) {
    return this.proto.getMetadata(id);
  }
  cleanup() {
    return this.proto.cleanup();
  }
  /** The wrapped driver's record of `id`, when it keeps records (a layer store does). */
  record(id: string): LayerRecord | undefined {
    return (this.proto as Partial<LayerInfo>).record?.(id);
  }
  /** The wrapped driver's close, when it has one. */
  async close(): Promise<void> {
    await (this.proto as Driver).close?.();
  }

  async diff(id: string, parentArg?: string | null, opts: DiffOptions = {}): Promise<Readable> {
    const parent = normalizeParent(parentArg);
    const what = `diff ${id}`;
    throwIfAborted(opts.signal, what);
    const started = Date.now();
    const layer = await take(this.proto, id);
    let inner: Readable;
    try {
      if (!parent) {
        inner = tarDirectory(layer.path);
      } else {
        const base = await take(this.proto, parent);
        let changes: Change[];
        try {
          changes = await changesDirs(layer.path, base.path);
        } finally {
          await base.release();
        }
        throwIfAborted(opts.signal, what);
        inner = exportChanges(layer.path, changes, { whiteoutTime: opts.whiteoutTime });
      }
    } catch (err) {
      await layer.release();
      throw err;
    }
    return guardDiffStream(inner, started, () => layer.release(), opts.signal, opts.waitNextSecond);
  }

  changes(id: string, parent?: string | null): Promise<Change[]> {
    return withLayers(this.proto, id, normalizeParent(parent), (dir, parentDir) => changesDirs(dir, parentDir));
  }

  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts: ApplyDiffOptions = {}): Promise<number> {
    // A driver with an applyDiff of its own (every layer store) marks the layer `applying`
    // while the tar is unpacked, so a crash cannot leave half a layer looking complete.
    const own = (this.proto as Partial<ApplyDiffProtoDriver>).applyDiff;
    if (own) return own.call(this.proto, id, parent, diff, opts);
    return withLayers(this.proto, id, null, (dir) => applyLayer(dir, diff, { ...this.applyOptions, onProgress: opts.onProgress }));
  }

  async diffSize(id: string, parent?: string | null): Promise<number> {
    return layerChangesSize(this.proto, id, await this.changes(id, parent));
  }
}

/**
 * Wraps a ProtoDriver with the naive diff (Docker's NewNaiveDiffDriver). When the driver has
 * an applyDiff of its own (a Driver from createLayerDriver), applyDiff is that one, so the
 * store's `applying` state holds; otherwise the tar is unpacked into the mounted layer.
 */
export function naiveDiffDriver(driver: ProtoDriver, applyOptions?: ApplyOptions): Driver {
  return new NaiveDiffDriver(driver, applyOptions);
}

/** The naive diff, changes and sizes, but the driver's own applyDiff. */
export function naiveDiffDriverWithApply(driver: ApplyDiffProtoDriver): Driver {
  return new NaiveDiffDriver(driver);
}
