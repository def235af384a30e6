// Docker's NaiveDiffDriver: diff, changes and sizes of any ProtoDriver by comparing the
// mounted trees of a layer and its parent. Every layer taken is let go of, on success, on
// error, and the moment a diff stream ends or is destroyed. A driver with `lease` (the
// layer store) gives transient references that a dying process cannot leave counted;
// any other ProtoDriver is taken with get and let go of with put.
import type { Readable } from 'node:stream';
import type { ApplyDiffOptions, Change, DiffOptions, Driver, LayerStream, ProtoDriver, RemoveOptions } from '../driver.js';
import { throwIfAborted } from '../abort.js';
import { diffStream } from './diff-stream.js';
import { normalizeParent } from '../ids.js';
import { applyLayer, type ApplyOptions } from './apply.js';
import { changesDirs } from './changes.js';
import { exportChanges, tarDirectory } from './export.js';
import { changesSize } from './size.js';

/** A layer mounted for one operation: `path` until `release` (idempotent). */
export interface Lease {
  path: string;
  release(): Promise<void>;
}

/** A ProtoDriver that can hand out transient references (store/leases.ts). */
export interface LeasingProtoDriver extends ProtoDriver {
  lease?(id: string): Promise<Lease>;
}

export interface ApplyDiffProtoDriver extends LeasingProtoDriver {
  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number>;
}

class NaiveDiffDriver implements Driver {
  constructor(
    protected readonly proto: LeasingProtoDriver,
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

  /** Mounts `id` for one operation: a lease where the driver has them, else get/put. */
  private async take(id: string): Promise<Lease> {
    if (this.proto.lease) return this.proto.lease(id);
    const path = await this.proto.get(id);
    let released: Promise<void> | undefined;
    return { path, release: () => (released ??= this.proto.put(id)) };
  }

  /** Runs `fn` with both layers mounted, releasing them whatever happens. */
  private async withLayers<T>(id: string, parent: string | null, fn: (dir: string, parentDir: string | null) => Promise<T>): Promise<T> {
    const layer = await this.take(id);
    try {
      if (!parent) return await fn(layer.path, null);
      const base = await this.take(parent);
      try {
        return await fn(layer.path, base.path);
      } finally {
        await base.release();
      }
    } finally {
      await layer.release();
    }
  }

  async diff(id: string, parentArg?: string | null, opts: DiffOptions = {}): Promise<Readable> {
    const parent = normalizeParent(parentArg);
    const what = `diff ${id}`;
    throwIfAborted(opts.signal, what);
    const started = Date.now();
    const layer = await this.take(id);
    let inner: Readable;
    try {
      if (!parent) {
        inner = tarDirectory(layer.path);
      } else {
        const base = await this.take(parent);
        let changes: Change[];
        try {
          changes = await changesDirs(layer.path, base.path);
        } finally {
          await base.release();
        }
        throwIfAborted(opts.signal, what);
        inner = exportChanges(layer.path, changes);
      }
    } catch (err) {
      await layer.release();
      throw err;
    }
    return diffStream(inner, { started, release: () => layer.release(), signal: opts.signal });
  }

  changes(id: string, parent?: string | null): Promise<Change[]> {
    return this.withLayers(id, normalizeParent(parent), (dir, parentDir) => changesDirs(dir, parentDir));
  }

  applyDiff(id: string, _parent: string | null | undefined, diff: LayerStream, opts: ApplyDiffOptions = {}): Promise<number> {
    return this.withLayers(id, null, (dir) => applyLayer(dir, diff, { ...this.applyOptions, onProgress: opts.onProgress }));
  }

  async diffSize(id: string, parent?: string | null): Promise<number> {
    const changes = await this.changes(id, parent);
    return this.withLayers(id, null, (dir) => changesSize(dir, changes));
  }
}

class NaiveDiffDriverWithApply extends NaiveDiffDriver {
  constructor(private readonly driver: ApplyDiffProtoDriver) {
    super(driver);
  }
  override applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number> {
    return this.driver.applyDiff(id, parent, diff, opts);
  }
}

/** Wraps a ProtoDriver with the naive diff (Docker's NewNaiveDiffDriver). */
export function naiveDiffDriver(driver: ProtoDriver, applyOptions?: ApplyOptions): Driver {
  return new NaiveDiffDriver(driver, applyOptions);
}

/** The naive diff, changes and sizes, but the driver's own applyDiff. */
export function naiveDiffDriverWithApply(driver: ApplyDiffProtoDriver): Driver {
  return new NaiveDiffDriverWithApply(driver);
}
