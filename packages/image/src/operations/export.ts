// exportImage (and push, its registry form): the chain of layers ending at a layer becomes an
// image at any ImageDestination. Per layer, a blob the destination already holds is not sent:
// a pulled layer's record names the exact blob it was pulled as, so a re-push offers the
// registry that blob (HEAD, or a mount from the repository it came from) and never
// recompresses it. Other layers stream driver.diff -> diff-ID digest -> compressor -> blob
// digest -> destination, `jobs` at a time. The output is reproducible: no time of the export
// leaks in. Entries keep their files' times; whiteouts, each gzip header and the config's
// `created` take the layer's creation time from its record (the top layer's for the config),
// or SOURCE_DATE_EPOCH when it is set.
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GraphDriverError, errLayerNotFound, layerRecord, type Driver } from '@graphdriver/core';
import { behindFileDir, behindFileLimit } from '../compression/behind-file.js';
import type { OutputCompression } from '../compression/compress.js';
import { DigestCounter, sha256 } from '../model/digest.js';
import { MediaType, layerMediaType, type LayerCompression } from '../model/media-types.js';
import { hostPlatform } from '../model/platform.js';
import type { ImageConfig, ImageManifest } from '../model/types.js';
import type { Descriptor, ImageDestination, Platform } from '../transports/types.js';
import { writeLayerBlob } from './layer-blob.js';
import { readLayerRecord, type LayerBlobRecord } from './layer-meta.js';
import type { TransferOptions } from './progress.js';

export interface ExportOptions extends TransferOptions {
  /** How layers that must be compressed are (default gzip). */
  compression?: OutputCompression;
  /**
   * Seconds since the epoch for the times an export sets (whiteout entries, gzip headers, the
   * config's `created`); default $SOURCE_DATE_EPOCH, else each layer's creation time.
   */
  sourceDateEpoch?: number;
  /**
   * The platform the image's config declares (os, architecture, variant), which is what a
   * puller's platform choice and a runtime go by; default this host. The layers are sent as
   * they are: a store holds no record of what platform its files were built for.
   */
  platform?: Platform;
}

/** One layer of an exported image, base first in {@link ExportResult.layers}. */
export interface ExportedLayer {
  /** The layer's id in the store. */
  id: string;
  /** Its parent's id; null for the base. */
  parent: string | null;
  /** The written (or reused) blob's digest. */
  digest: string;
  /** The blob's media type (its compression). */
  mediaType: string;
  /** The uncompressed tar's digest, as in the config's `rootfs.diff_ids`. */
  diffId: string;
  /** The blob's size in bytes. */
  size: number;
  /** True when the destination already had the blob (nothing was sent). */
  skipped: boolean;
}

/** What {@link exportImage} wrote. */
export interface ExportResult {
  /** The manifest's digest. */
  manifest: string;
  /** The config's digest. */
  config: string;
  /** The id of the exported (top) layer. */
  top: string;
  /** Every layer of the chain, base first. */
  layers: ExportedLayer[];
}

/** Ids from the bottom of the chain up to `id`, following the store's parent links. */
export async function layerChain(driver: Driver, id: string): Promise<string[]> {
  if (!(await driver.exists(id))) throw errLayerNotFound(id);
  const chain: string[] = [];
  const seen = new Set<string>();
  for (let cur: string | null = id; cur; ) {
    if (seen.has(cur)) throw new GraphDriverError('ERR_INTERNAL', `layer ${id}: parent links form a cycle at ${cur}`);
    seen.add(cur);
    chain.push(cur);
    const rec = layerRecord(driver, cur);
    if (!rec)
      throw new GraphDriverError(
        'ERR_NOT_SUPPORTED',
        `the ${driver.name} driver keeps no layer records, so the chain of ${id} cannot be followed`,
      );
    cur = rec.parent;
  }
  return chain.reverse();
}

const compressionOf = (mediaType: string): LayerCompression =>
  /zstd$/.test(mediaType) ? 'zstd' : /(gzip)$/.test(mediaType) ? 'gzip' : 'none';

/** Seconds since the epoch of SOURCE_DATE_EPOCH, when it is set (and sane). */
export function sourceDateEpoch(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,12}$/.test(v))
    throw new GraphDriverError('ERR_INVALID_OPTION', `SOURCE_DATE_EPOCH=${JSON.stringify(v)} is not a number of seconds`);
  return Number(v);
}

/**
 * Writes the chain of layers ending at `id` to `dest` as an image: one blob per layer (a
 * diff of the layer against its parent, compressed as `opts.compression` says, or a pulled
 * layer's own blob when the destination has it or can mount it), a config and a manifest,
 * then commits `dest`. The same chain exported twice gives the same digests. The caller
 * still closes `dest`.
 *
 * Throws ERR_LAYER_NOT_FOUND for an unknown `id`, ERR_NOT_SUPPORTED for a driver that keeps
 * no layer records, ERR_INVALID_OPTION for a bad SOURCE_DATE_EPOCH, and the destination's
 * errors (ERR_REGISTRY…); aborting rejects with an AbortError.
 */
export async function exportImage(driver: Driver, id: string, dest: ImageDestination, opts: ExportOptions = {}): Promise<ExportResult> {
  const { signal, stateDir } = opts;
  const emit = opts.onProgress ?? (() => {});
  signal?.throwIfAborted();
  const epoch = opts.sourceDateEpoch ?? sourceDateEpoch();
  const chain = await layerChain(driver, id);
  /** The time a layer's blob carries: the epoch, else the layer's creation (whole seconds). */
  const layerTime = (layerId: string): number => {
    if (epoch !== undefined) return epoch;
    const ms = Date.parse(layerRecord(driver, layerId)?.created ?? '');
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
  };
  const manifestType = dest.manifestType ?? MediaType.Manifest;
  const wanted: LayerCompression = dest.uncompressedLayers ? 'none' : (opts.compression ?? 'gzip');
  emit({ type: 'plan', layers: chain.length, bytes: 0 });

  // A pulled layer's blob, when the destination has it (or can mount it) and its compression
  // suits the destination. Its diff ID is the record's: the layer is named by the chain ID
  // those diff IDs make, which is checked here too.
  const reusable = async (i: number): Promise<(LayerBlobRecord & { mediaType: string }) | undefined> => {
    if (stateDir === undefined) return undefined;
    const rec = await readLayerRecord(stateDir, chain[i]);
    if (!rec) return undefined;
    const have = compressionOf(rec.mediaType);
    if (dest.uncompressedLayers ? have !== 'none' : have === 'none') return undefined;
    const desc: Descriptor = { mediaType: layerMediaType(manifestType, have), digest: rec.digest, size: rec.size };
    return (await dest.hasBlob(desc, rec.origin, signal)) ? { ...rec, mediaType: desc.mediaType } : undefined;
  };

  const writeLayer = async (i: number): Promise<ExportedLayer> => {
    const layerId = chain[i];
    const parent = i === 0 ? null : chain[i - 1];
    emit({ type: 'layer', index: i, count: chain.length, digest: '' });
    const reuse = await reusable(i);
    if (reuse) {
      emit({ type: 'layer-done', index: i, id: layerId, skipped: true });
      return {
        id: layerId,
        parent,
        digest: reuse.digest,
        mediaType: reuse.mediaType,
        diffId: reuse.diffId,
        size: reuse.size,
        skipped: true,
      };
    }
    let diffId: string | undefined;
    // The tasks feeding the blob: a failed putBlob (an interrupt) waits for them, so the
    // diff they took (its lease on the layer) is released before the caller closes the driver.
    const producers: Array<{ out: PassThrough; done: Promise<void> }> = [];
    const open = (): Readable => {
      const out = new PassThrough({ highWaterMark: 1 << 20 });
      const onBytes = (n: number) => emit({ type: 'bytes', bytes: n });
      diffId = undefined;
      const producing = (async () => {
        const time = layerTime(layerId);
        // an export makes no edit to the layer: its diff need not wait for the next second
        const diff = await driver.diff(layerId, parent, { signal, whiteoutTime: time, waitNextSecond: false });
        if (wanted === 'none') {
          const counter = new DigestCounter({ onBytes });
          await pipeline(diff, counter, out, { signal });
          diffId = counter.digest;
          return;
        }
        // the tar goes into the compressor through files (operations/layer-blob.ts) for a
        // layer whose size is known and not too large
        const size = layerRecord(driver, layerId)?.size;
        const fileDir = stateDir !== undefined && size !== undefined && size <= behindFileLimit() ? behindFileDir(stateDir) : undefined;
        diffId = await writeLayerBlob(diff, out, { kind: wanted, time, fileDir, signal, onBytes });
      })().catch((err: unknown) => {
        out.destroy(err as Error);
      });
      producers.push({ out, done: producing });
      return out;
    };
    let desc: Descriptor;
    try {
      desc = await dest.putBlob(open, { mediaType: layerMediaType(manifestType, wanted) }, signal);
    } catch (err) {
      for (const p of producers) p.out.destroy(); // unread by a destination that gave up
      await Promise.all(producers.map((p) => p.done));
      throw err;
    }
    emit({ type: 'layer-done', index: i, id: layerId, skipped: false });
    // the blob's end comes after its tar's digest (writeLayerBlob), but the producer's own
    // last step may not have run yet
    await producers.at(-1)?.done;
    if (diffId === undefined) throw new GraphDriverError('ERR_INTERNAL', `export of layer ${layerId}: the tar's digest is missing`);
    return { id: layerId, parent, digest: desc.digest, mediaType: desc.mediaType, diffId, size: desc.size, skipped: false };
  };

  const layers = await inOrder(chain.length, Math.max(1, opts.jobs ?? 3), writeLayer, signal);

  const created = new Date(layerTime(id) * 1000).toISOString();
  const platform = opts.platform ?? hostPlatform();
  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: `graphdriver export (layer ${l.id})` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configType = manifestType === MediaType.DockerManifest ? MediaType.DockerConfig : MediaType.Config;
  const configDesc = await putBytes(dest, configBytes, configType, signal);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: configDesc,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = await dest.putManifest(manifestBytes, manifestType, signal);
  await dest.commit(signal);
  return { manifest: manifestDigest, config: configDesc.digest, top: id, layers };
}

async function putBytes(dest: ImageDestination, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<Descriptor> {
  const desc: Descriptor = { mediaType, digest: sha256(bytes), size: bytes.length };
  if (await dest.hasBlob(desc, undefined, signal)) return desc;
  return dest.putBlob(() => Readable.from([bytes]), { mediaType, digest: desc.digest, size: desc.size }, signal);
}

/** Runs `task(0..n-1)` `jobs` at a time; results in index order; the first failure stops the rest. */
async function inOrder<T>(n: number, jobs: number, task: (i: number) => Promise<T>, signal?: AbortSignal): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < n) {
      signal?.throwIfAborted();
      const i = next++;
      try {
        out[i] = await task(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, n) }, worker));
  return out;
}
