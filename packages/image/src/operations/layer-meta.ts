// What each pulled layer was pulled as: its compressed digest, media type, size, diff ID and
// the registry repository it came from, in `<stateDir>/layers/<chain id hex>.json`. A push
// reads it to offer the registry the very blob it already holds (HEAD, or a cross-repository
// mount) instead of compressing the layer again. Layers are named by chain ID, so a record
// can never describe other content than its layer's; at worst the blob is gone remotely.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs, writeFileAtomic } from '@graphdriver/core';
import { sweepTemps } from '@graphdriver/core/linux';
import { isDigest } from '../model/digest.js';
import type { BlobOrigin } from '../transports/types.js';

export interface LayerBlobRecord {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
  origin?: BlobOrigin;
}

const HEX64 = /^[a-f0-9]{64}$/;
const recordPath = (stateDir: string, id: string) => join(stateDir, 'layers', `${id}.json`);

export async function writeLayerRecord(stateDir: string, id: string, record: LayerBlobRecord): Promise<void> {
  if (!HEX64.test(id)) return;
  await makeDirs(join(stateDir, 'layers'));
  await writeFileAtomic(recordPath(stateDir, id), JSON.stringify(record), 0o644);
}

/**
 * Deletes what interrupted record writes left (core's atomic-temp names). Only safe while this
 * process owns the store the records belong to (a layer store's lock: one driver per home).
 */
export async function sweepLayerRecordTemps(stateDir: string): Promise<void> {
  await sweepTemps(join(stateDir, 'layers')).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** The record of layer `id`, or undefined (none, or not one this package wrote). */
export async function readLayerRecord(stateDir: string, id: string): Promise<LayerBlobRecord | undefined> {
  if (!HEX64.test(id)) return undefined;
  let r: Partial<LayerBlobRecord>;
  try {
    r = JSON.parse(await readFile(recordPath(stateDir, id), 'utf8')) as Partial<LayerBlobRecord>;
  } catch {
    return undefined;
  }
  if (!isDigest(r.digest) || !isDigest(r.diffId) || typeof r.mediaType !== 'string' || !Number.isSafeInteger(r.size)) return undefined;
  const o = r.origin;
  const origin =
    o && typeof o.registry === 'string' && typeof o.repository === 'string'
      ? { registry: o.registry, repository: o.repository }
      : undefined;
  return { digest: r.digest, mediaType: r.mediaType, size: r.size as number, diffId: r.diffId, ...(origin ? { origin } : {}) };
}
