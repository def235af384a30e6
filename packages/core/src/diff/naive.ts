// Docker's NaiveDiffDriver: diff, changes and sizes of any ProtoDriver by comparing the
// mounted trees of a layer and its parent. Every get is matched by a put, on success, on
// error, and when a diff stream ends or is destroyed. LayerDriver (store/layer-driver.ts)
// uses it wherever a backend has no native diff.
import type { Readable } from 'node:stream';
import type { ApplyDiffOptions, Change, Driver, LayerInfo, LayerRecord, LayerStream, ProtoDriver } from '../driver.js';
import { normalizeParent } from '../ids.js';
import { applyLayer, type ApplyOptions } from './apply.js';
import { changesDirs } from './changes.js';
import { exportChanges, tarDirectory } from './export.js';
import { changesSize } from './size.js';
import { guardDiffStream } from './stream-guard.js';

/** A ProtoDriver with an applyDiff of its own (a layer store, which marks the layer `applying`). */
export interface ApplyDiffProtoDriver extends ProtoDriver {
  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number>;
}

/** Runs `fn` with `id` (and `parent`) mounted through `proto`, releasing them whatever happens. */
async function withLayers<T>(
  proto: ProtoDriver,
  id: string,
  parent: string | null,
  fn: (dir: string, parentDir: string | null) => Promise<T>,
): Promise<T> {
  const dir = await proto.get(id);
  try {
    if (!parent) return await fn(dir, null);
    const parentDir = await proto.get(parent);
    try {
      return await fn(dir, parentDir);
    } finally {
      await proto.put(parent);
    }
  } finally {
    await proto.put(id);
  }
}

/** Bytes of the added and modified files of `changes`, read from layer `id` mounted through `proto`. */
export function layerChangesSize(proto: ProtoDriver, id: string, changes: Change[]): Promise<number> {
  return withLayers(proto, id, null, (dir) => changesSize(dir, changes));
}

class NaiveDiffDriver implements Driver {
  constructor(
    private readonly proto: ProtoDriver,
    private readonly applyOptions: ApplyOptions = {},
  ) {}

  get name() { return this.proto.name; }
  create(...a: Parameters<ProtoDriver['create']>) { return this.proto.create(...a); }
  createReadWrite(...a: Parameters<ProtoDriver['createReadWrite']>) { return this.proto.createReadWrite(...a); }
  remove(id: string) { return this.proto.remove(id); }
  get(id: string, opts?: { mountLabel?: string }) { return this.proto.get(id, opts); }
  put(id: string) { return this.proto.put(id); }
  exists(id: string) { return this.proto.exists(id); }
  list() { return this.proto.list(); }
  status() { return this.proto.status(); }
  getMetadata(id: string) { return this.proto.getMetadata(id); }
  cleanup() { return this.proto.cleanup(); }
  /** The wrapped driver's record of `id`, when it keeps records (a layer store does). */
  record(id: string): LayerRecord | undefined { return (this.proto as Partial<LayerInfo>).record?.(id); }
  /** The wrapped driver's close, when it has one. */
  async close(): Promise<void> { await (this.proto as Driver).close?.(); }

  async diff(id: string, parentArg?: string | null): Promise<Readable> {
    const parent = normalizeParent(parentArg);
    const started = Date.now();
    const dir = await this.proto.get(id);
    let inner: Readable;
    try {
      if (!parent) {
        inner = tarDirectory(dir);
      } else {
        const parentDir = await this.proto.get(parent);
        let changes: Change[];
        try {
          changes = await changesDirs(dir, parentDir);
        } finally {
          await this.proto.put(parent);
        }
        inner = exportChanges(dir, changes);
      }
    } catch (err) {
      await this.proto.put(id);
      throw err;
    }
    return guardDiffStream(inner, started, () => this.proto.put(id));
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
