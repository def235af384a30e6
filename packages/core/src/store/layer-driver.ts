// Turns a LayerBackend into a full Driver: the one place where ids are checked, parents and
// children are tracked, get/put are counted, operations on one id are serialised, the home
// is locked against a second process, and a crash's leftovers are cleaned at init.
import { mkdir } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Change, CreateOpts, Driver, IdMappings, LayerStream, ProtoDriver } from '../driver.js';
import { asStorageError, errLayerBusy, errLayerExists, errLayerNotFound } from '../errors.js';
import { normalizeParent, validateId } from '../ids.js';
import { storageOptions } from '../options.js';
import { applyLayer } from '../diff/apply.js';
import { naiveDiffDriverWithApply } from '../diff/naive.js';
import type { LayerBackend } from './backend.js';
import { KeyedMutex } from './keyed-mutex.js';
import { LayerIndex, type LayerRecord } from './layer-index.js';
import { StoreLock } from './store-lock.js';

export interface LayerDriverOptions {
  /** Tolerate failing chown while applying layers (rootless use). */
  ignoreChownErrors?: boolean;
  idMappings?: IdMappings;
}

export async function createLayerDriver(
  home: string,
  backend: LayerBackend,
  options: LayerDriverOptions = {},
): Promise<Driver> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const lock = await StoreLock.acquire(home);
  try {
    const index = await LayerIndex.open(home);
    const proto = new LayerProtoDriver(home, backend, index, lock, options);
    await proto.recover();
    return withDiff(proto, backend);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

class LayerProtoDriver implements ProtoDriver {
  readonly name: string;
  private readonly mutex = new KeyedMutex();
  /** Layers this process has mounted through the backend. */
  private readonly mountedHere = new Map<string, string>();
  private closed = false;

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
    }
    await this.backend.recover(new Set(this.index.all().map((r) => r.id)));
  }

  private complete(id: string): LayerRecord {
    const rec = this.index.get(id);
    if (!rec || rec.state !== 'complete') throw errLayerNotFound(id);
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
        ...(Object.keys(storageOpt).length ? { storageOpt } : {}),
      };
      await this.index.save(rec);
      try {
        await this.backend.create(id, parent, { rw, storageOpt, mountLabel: opts.mountLabel });
      } catch (err) {
        // leave the store as it was
        await this.backend.remove(id).catch(() => {});
        await this.index.delete(id).catch(() => {});
        throw asStorageError(err, `create ${id}`);
      }
      await this.index.update(id, { state: 'complete' });
    });
  }

  async remove(id: string): Promise<void> {
    validateId(id);
    this.checkOpen();
    await this.mutex.with([id], async () => {
      const rec = this.index.get(id);
      if (!rec) throw errLayerNotFound(id);
      const children = this.index.children(id);
      if (children.length) throw errLayerBusy(id, `it has child layers: ${children.join(', ')}`);
      if (rec.mounts > 0) throw errLayerBusy(id, `it is mounted (${rec.mounts} references)`);
      await this.index.update(id, { state: 'removing' });
      await this.backend.unmount(id).catch(() => {});
      this.mountedHere.delete(id);
      await this.backend.remove(id);
      await this.index.delete(id);
    });
  }

  async get(id: string, opts: { mountLabel?: string } = {}): Promise<string> {
    validateId(id);
    this.checkOpen();
    return this.mutex.with([id], async () => {
      const rec = this.index.get(id);
      // an applying layer may be got by its own applyDiff, which holds no lock here
      if (!rec || (rec.state !== 'complete' && rec.state !== 'applying')) throw errLayerNotFound(id);
      let path = this.mountedHere.get(id);
      if (path === undefined) {
        path = await this.backend.mount(id, opts.mountLabel);
        this.mountedHere.set(id, path);
      }
      await this.index.update(id, { mounts: rec.mounts + 1 });
      return path;
    });
  }

  async put(id: string): Promise<void> {
    validateId(id);
    await this.mutex.with([id], async () => {
      const rec = this.index.get(id);
      if (!rec) throw errLayerNotFound(id);
      if (rec.mounts <= 0) return; // Docker tolerates an unbalanced Put
      const mounts = rec.mounts - 1;
      if (mounts === 0) {
        await this.backend.unmount(id);
        this.mountedHere.delete(id);
      }
      await this.index.update(id, { mounts });
    });
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

  async applyDiff(id: string, _parent: string | null | undefined, diff: LayerStream): Promise<number> {
    validateId(id);
    this.checkOpen();
    await this.mutex.with([id], async () => {
      this.complete(id);
      const children = this.index.children(id);
      if (children.length) throw errLayerBusy(id, `it has child layers: ${children.join(', ')}`);
      // Until it finishes the layer is not complete: a crash now leaves it to be swept at init.
      await this.index.update(id, { state: 'applying' });
    });
    const path = await this.get(id);
    try {
      const n = this.backend.applyDiff
        ? await this.backend.applyDiff(id, path, diff)
        : await applyLayer(path, diff, {
            ignoreChownErrors: this.options.ignoreChownErrors,
            idMappings: this.options.idMappings,
          });
      await this.put(id);
      await this.mutex.with([id], () => this.index.update(id, { state: 'complete', diffSize: n }));
      return n;
    } catch (err) {
      // The layer keeps state 'applying': reported incomplete, never listed, swept at init.
      await this.put(id).catch(() => {});
      throw asStorageError(err, `apply diff to ${id}`);
    }
  }

  async cleanup(): Promise<void> {
    if (this.closed) return;
    for (const rec of this.index.all()) {
      if (rec.mounts > 0 || this.mountedHere.has(rec.id)) {
        await this.backend.unmount(rec.id);
        if (rec.mounts > 0) await this.index.update(rec.id, { mounts: 0 });
      }
    }
    this.mountedHere.clear();
    await this.backend.cleanup();
    this.closed = true;
    await this.lock.release();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.name} driver at ${this.home} was cleaned up; initialise it again`);
  }
}

function sortChildrenFirst(recs: LayerRecord[], index: LayerIndex): LayerRecord[] {
  const depth = (r: LayerRecord): number => {
    let d = 0;
    for (let p = r.parent; p && d < 10_000; p = index.get(p)?.parent ?? null) d++;
    return d;
  };
  return [...recs].sort((a, b) => depth(b) - depth(a));
}

/** The naive diff over the proto driver, with the backend's native parts where it has them. */
function withDiff(proto: LayerProtoDriver, backend: LayerBackend): Driver {
  const naive = naiveDiffDriverWithApply(proto);
  const naiveChanges = naive.changes.bind(naive);
  const naiveDiff = naive.diff.bind(naive);
  const driver: Driver & { record(id: string): LayerRecord | undefined } = Object.assign(naive, {
    record: (id: string) => proto.record(id),
  });
  if (backend.changes) {
    const nativeChanges = backend.changes.bind(backend);
    driver.changes = async (id: string, parent?: string | null): Promise<Change[]> => {
      const p = normalizeParent(parent);
      const native = await nativeChanges(id, p);
      return native ?? naiveChanges(id, p);
    };
  }
  if (backend.diff) {
    const nativeDiff = backend.diff.bind(backend);
    driver.diff = async (id: string, parent?: string | null): Promise<Readable> => {
      const p = normalizeParent(parent);
      return (await nativeDiff(id, p)) ?? naiveDiff(id, p);
    };
  }
  return driver;
}
