// The layer commands: create, rm, ls, mount, unmount, status, info, size.
import { ErrorCode, GraphDriverError, layerRecord, normalizeParent, validateId, type CreateOpts, type Driver } from '@graphdriver/core';
import { errorCode, errorMessage } from '../cli-errors.js';
import { humanBytes, table } from '../format.js';
import type { Output } from '../output.js';
import { withDriver, withExistingDriver, type GlobalOptions } from '../session.js';

/** `--parent P` when given ('' meaning "against nothing"), else the layer's own parent. */
export function parentOf(driver: Driver, id: string, given: string | undefined): string | null {
  if (given !== undefined) return normalizeParent(given);
  return layerRecord(driver, id)?.parent ?? null;
}

export async function create(g: GlobalOptions, out: Output, id: string, o: { parent?: string; rw?: boolean; size?: string }) {
  await withDriver(g, async (driver) => {
    const opts: CreateOpts = o.size !== undefined ? { storageOpt: { size: o.size } } : {};
    const parent = normalizeParent(o.parent);
    if (o.rw) await driver.createReadWrite(id, parent, opts);
    else await driver.create(id, parent, opts);
    // interrupted meanwhile: the user never learnt of the layer, so it goes again
    if (g.commit && !g.commit()) {
      await driver.remove(id).catch(() => {});
      return;
    }
    out.result({ id, parent, rw: !!o.rw }, id, id);
  });
}

/** Depth in the store's parent links, so that children are removed before their parents. */
function depth(driver: Driver, id: string): number {
  let d = 0;
  for (let p = layerRecord(driver, id)?.parent; p && d < 10_000; p = layerRecord(driver, p)?.parent) d++;
  return d;
}

/**
 * Removes every id given, children first; one that fails does not stop the others. With
 * `force`, counted references (a mount nobody undid) are released with the layer.
 */
export async function remove(g: GlobalOptions, out: Output, ids: string[], o: { force?: boolean } = {}) {
  await withDriver(g, async (driver) => {
    const order = [...new Set(ids)].sort((a, b) => depth(driver, b) - depth(driver, a));
    const removed: string[] = [];
    const failed: Array<{ id: string; error: unknown }> = [];
    for (const id of order) {
      if (g.signal?.aborted) break;
      try {
        await driver.remove(id, { force: !!o.force });
        removed.push(id);
      } catch (error) {
        failed.push({ id, error });
      }
    }
    if (failed.length === 0) {
      out.result(ids.length === 1 ? { id: ids[0], removed: true } : { removed }, removed, removed);
      return;
    }
    if (removed.length && !g.json) out.result({ removed }, removed, removed);
    const first = failed[0].error;
    if (failed.length === 1) throw first;
    throw new GraphDriverError(
      errorCode(first),
      `${failed.map((f) => errorMessage(f.error)).join('; ')} (${removed.length} removed, ${failed.length} not)`,
    );
  });
}

export interface LayerListing {
  id: string;
  parent: string | null;
  rw: boolean;
  /** Bytes the layer adds to its parent, as recorded (null: not recorded). */
  size: number | null;
  created: string | null;
  mounts: number;
}

/**
 * The size recorded when the layer was made, applied or last put: listing never walks a
 * tree. Null for a record written before sizes were recorded (`size ID` measures it).
 */
function recordedSize(driver: Driver, id: string): number | null {
  const rec = layerRecord(driver, id);
  return rec?.size ?? rec?.diffSize ?? null;
}

async function listLayers(driver: Driver): Promise<LayerListing[]> {
  const layers: LayerListing[] = [];
  for (const id of await driver.list()) {
    const rec = layerRecord(driver, id);
    layers.push({
      id,
      parent: rec?.parent ?? null,
      rw: rec?.rw ?? false,
      size: recordedSize(driver, id),
      created: rec?.created ?? null,
      mounts: rec?.mounts ?? 0,
    });
  }
  return layers;
}

export async function list(g: GlobalOptions, out: Output) {
  await withExistingDriver(g, async (driver) => {
    const layers = driver ? await listLayers(driver) : [];
    const rows = layers.map((l) => [
      l.id,
      l.parent ?? '-',
      l.rw ? 'rw' : 'ro',
      l.size === null ? '-' : humanBytes(l.size),
      l.created ?? '-',
      String(l.mounts),
    ]);
    out.result(
      layers,
      table(['ID', 'PARENT', 'MODE', 'SIZE', 'CREATED', 'MOUNTS'], rows),
      layers.map((l) => l.id),
    );
  });
}

export async function mount(g: GlobalOptions, out: Output, id: string) {
  await withDriver(g, async (driver) => {
    const path = await driver.get(id);
    // interrupted meanwhile: nobody got the path, so nobody would release the reference
    if (g.commit && !g.commit()) {
      await driver.put(id).catch(() => {});
      return;
    }
    out.result({ id, path }, path, path);
  });
}

export async function unmount(g: GlobalOptions, out: Output, id: string) {
  await withDriver(g, async (driver) => {
    await driver.put(id);
    out.result({ id, mounts: layerRecord(driver, id)?.mounts ?? 0 }, id, id);
  });
}

export async function status(g: GlobalOptions, out: Output) {
  await withExistingDriver(g, async (driver, s) => {
    if (!driver) {
      const lines = [`Driver: ${s.driverName ?? '-'}`, `Root: ${s.root}`, 'Store: none yet (the first command that writes creates it)'];
      out.result({ driver: s.driverName ?? null, root: s.root, exists: false, status: {} }, lines, lines);
      return;
    }
    const pairs = await driver.status();
    const lines = [`Driver: ${driver.name}`, `Root: ${s.root}`, ...pairs.map(([k, v]) => `${k}: ${v}`)];
    out.result({ driver: driver.name, root: s.root, exists: true, status: Object.fromEntries(pairs) }, lines, lines);
  });
}

export async function info(g: GlobalOptions, out: Output, id: string) {
  await withExistingDriver(g, async (driver, s) => {
    if (!driver) {
      validateId(id);
      throw new GraphDriverError(ErrorCode.LayerNotFound, `layer ${id} does not exist: there is no store at ${s.root} yet`);
    }
    const metadata = await driver.getMetadata(id);
    const rec = layerRecord(driver, id);
    const doc = {
      id,
      parent: rec?.parent ?? null,
      rw: rec?.rw ?? false,
      state: rec?.state ?? 'complete',
      created: rec?.created ?? null,
      mounts: rec?.mounts ?? 0,
      size: recordedSize(driver, id),
      metadata,
    };
    const lines = [
      `ID: ${id}`,
      `Parent: ${doc.parent ?? '-'}`,
      `Mode: ${doc.rw ? 'rw' : 'ro'}`,
      `State: ${doc.state}`,
      `Created: ${doc.created ?? '-'}`,
      `Mounts: ${doc.mounts}`,
      `Size: ${doc.size === null ? '- (not recorded)' : `${doc.size} bytes`}`,
      ...Object.entries(metadata).map(([k, v]) => `${k}: ${v}`),
    ];
    out.result(doc, lines, lines);
  });
}

export async function size(g: GlobalOptions, out: Output, id: string, o: { parent?: string }) {
  await withDriver(g, async (driver) => {
    const parent = parentOf(driver, id, o.parent);
    const bytes = await driver.diffSize(id, parent);
    out.result({ id, parent, size: bytes }, `${bytes} (${humanBytes(bytes)})`, String(bytes));
  });
}
