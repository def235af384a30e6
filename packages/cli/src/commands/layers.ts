// The layer commands: create, rm, ls, mount, unmount, status, info, size.
import { ErrorCode, GraphDriverError, layerRecord, normalizeParent, validateId, type CreateOpts, type Driver } from '@graphdriver/core';
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
    out.result({ id, parent, rw: !!o.rw }, id, id);
  });
}

export async function remove(g: GlobalOptions, out: Output, id: string) {
  await withDriver(g, async (driver) => {
    await driver.remove(id);
    out.result({ id, removed: true }, id, id);
  });
}

export interface LayerListing {
  id: string;
  parent: string | null;
  rw: boolean;
  /** Bytes the layer adds to its parent. */
  size: number;
  created: string | null;
  mounts: number;
}

/** The recorded size of an applied layer; otherwise measured against its parent. */
async function layerSize(driver: Driver, id: string): Promise<number> {
  const rec = layerRecord(driver, id);
  return rec?.diffSize ?? driver.diffSize(id, rec?.parent ?? null);
}

async function listLayers(driver: Driver): Promise<LayerListing[]> {
  const layers: LayerListing[] = [];
  for (const id of await driver.list()) {
    const rec = layerRecord(driver, id);
    layers.push({
      id,
      parent: rec?.parent ?? null,
      rw: rec?.rw ?? false,
      size: await layerSize(driver, id),
      created: rec?.created ?? null,
      mounts: rec?.mounts ?? 0,
    });
  }
  return layers;
}

export async function list(g: GlobalOptions, out: Output) {
  await withExistingDriver(g, async (driver) => {
    const layers = driver ? await listLayers(driver) : [];
    const rows = layers.map((l) => [l.id, l.parent ?? '-', l.rw ? 'rw' : 'ro', humanBytes(l.size), l.created ?? '-', String(l.mounts)]);
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
      size: rec?.diffSize ?? null,
      metadata,
    };
    const lines = [
      `ID: ${id}`,
      `Parent: ${doc.parent ?? '-'}`,
      `Mode: ${doc.rw ? 'rw' : 'ro'}`,
      `State: ${doc.state}`,
      `Created: ${doc.created ?? '-'}`,
      `Mounts: ${doc.mounts}`,
      ...(doc.size !== null ? [`Applied: ${doc.size} bytes`] : []),
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
