// Docker's NaiveDiffDriver: diff, changes and sizes of any ProtoDriver by comparing the
// mounted trees of a layer and its parent. Every get is matched by a put, on success, on
// error, and when a diff stream ends or is destroyed.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApplyDiffOptions, Change, Driver, LayerStream, ProtoDriver } from '../driver.js';
import { normalizeParent } from '../ids.js';
import { applyLayer, type ApplyOptions } from './apply.js';
import { changesDirs } from './changes.js';
import { exportChanges, tarDirectory } from './export.js';
import { changesSize } from './size.js';

/**
 * A layer diff as callers get it: `inner`'s bytes, ending no earlier than the second after
 * `started` (Date.now() when the diff began), then `release` (whatever the diff held), also
 * when the reader stops early. Parents are unpacked with whole-second mtimes: an edit made
 * within the same second as a diff would be invisible to the next one, so a diff ends only
 * in the next second. For the naive diff and the drivers' native ones alike.
 */
export function diffStream(inner: Readable, started: number, release?: () => unknown): Readable {
  async function* guarded() {
    try {
      for await (const chunk of inner) yield chunk as Buffer;
      await sleep(1000 - (started % 1000));
    } finally {
      inner.destroy();
      await release?.();
    }
  }
  return Readable.from(guarded(), { objectMode: false, highWaterMark: 1 << 20 });
}

export interface ApplyDiffProtoDriver extends ProtoDriver {
  applyDiff(id: string, parent: string | null | undefined, diff: LayerStream, opts?: ApplyDiffOptions): Promise<number>;
}

class NaiveDiffDriver implements Driver {
  constructor(
    protected readonly proto: ProtoDriver,
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

  /** Runs `fn` with both layers mounted, releasing them whatever happens. */
  private async withLayers<T>(id: string, parent: string | null, fn: (dir: string, parentDir: string | null) => Promise<T>): Promise<T> {
    const dir = await this.proto.get(id);
    try {
      if (!parent) return await fn(dir, null);
      const parentDir = await this.proto.get(parent);
      try {
        return await fn(dir, parentDir);
      } finally {
        await this.proto.put(parent);
      }
    } finally {
      await this.proto.put(id);
    }
  }

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
    return diffStream(inner, started, () => this.proto.put(id));
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
