// importImage (and pull, its registry form): an image from any ImageSource becomes a chain of
// layers in a Driver, named by chain ID. Layers are fetched `jobs` at a time while they are
// applied in chain order (layer N+1 downloads while N applies, and N applies right behind its
// own download), streamed all the way: source blob -> digest check -> decompress -> diff-ID
// digest -> driver.applyDiff. Every byte
// is verified, blob digest and diff ID; a layer that fails any check is removed again, so no
// half layer is ever left. Layers already in the store are skipped.
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { isGraphDriverError, type Driver } from '@graphdriver/core';
import { ImageErrorCode, digestMismatch, imageError, invalidImage } from '../errors.js';
import type { Compression } from '../compression/decompress.js';
import { behindFileDir, behindFileLimit, sweepBehindFiles } from '../compression/behind-file.js';
import { DigestCounter, chainIds, digestHex } from '../model/digest.js';
import { isLayerMediaType } from '../model/media-types.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, manifestKind, parseConfig, parseJsonBlob, parseManifest } from '../model/parse.js';
import { hostPlatform } from '../model/platform.js';
import type { ImageConfig, ImageManifest } from '../model/types.js';
import type { Descriptor, ImageSource, Platform } from '../transports/types.js';
import { collect, digestStream } from '../util/streams.js';
import { BlobProgress, cachedBlobPath, fetchBlob, followBlob } from './blob-cache.js';
import { sweepLayerRecordTemps, writeLayerRecord } from './layer-meta.js';
import { openLayerTar } from './layer-tar.js';
import type { TransferOptions } from './progress.js';

export interface ImportOptions extends TransferOptions {
  /** The platform to pick from an index (default: this host). */
  platform?: Platform;
}

/** One layer of an imported image, base first in {@link ImportResult.layers}. */
export interface ImportedLayer {
  /** Layer id in the store: the chain ID's hex. */
  id: string;
  /** The parent layer's id; null for the base. */
  parent: string | null;
  /** The blob's digest, as the source has it. */
  digest: string;
  /** The blob's media type, as the source has it. */
  mediaType: string;
  /** The blob's compressed size in bytes. */
  size: number;
  /** The uncompressed tar's digest (checked against the config's `rootfs.diff_ids`). */
  diffId: string;
  /** Compression found in the blob; null when the layer was skipped. */
  compression: Compression | null;
  /** True when the layer was already in the store. */
  skipped: boolean;
  /** Bytes applied (sum of entry sizes), for new layers. */
  applied?: number;
}

/** What {@link importImage} found and stored. */
export interface ImportResult {
  /** The manifest's digest. */
  manifest: string;
  /** The config's digest. */
  config: string;
  /** Id of the top layer (the image's root filesystem); null for an image without layers. */
  top: string | null;
  /** Every layer of the image, base first, stored now or found present. */
  layers: ImportedLayer[];
}

/** Reads a small blob whole (a config), bounded and digest-checked. */
async function readSmallBlob(source: ImageSource, desc: Descriptor, max: number, signal?: AbortSignal): Promise<Buffer> {
  if (desc.size > max) throw invalidImage(source.name, `blob ${desc.digest} is ${desc.size} bytes, over the ${max}-byte limit`);
  const counter = new DigestCounter({ limit: desc.size, what: `${source.name}: blob ${desc.digest}` });
  const [bytes] = await Promise.all([collect(counter), pipeline(await source.blob(desc, { signal }), counter, { signal })]);
  if (counter.bytes !== desc.size || counter.digest !== desc.digest)
    throw digestMismatch(`${source.name}: blob`, desc.digest, counter.digest);
  return bytes;
}

/**
 * The image's manifest and config for `platform`, every digest checked and every shape
 * validated, without reading any layer. Throws ERR_IMAGE_INVALID (malformed, over the size
 * bounds, layer count and diff IDs disagreeing), ERR_DIGEST_MISMATCH, ERR_UNSUPPORTED_IMAGE
 * (an unknown layer media type) and the source's errors.
 */
export async function readImage(
  source: ImageSource,
  platform: Platform,
  signal?: AbortSignal,
): Promise<{
  /** The manifest's digest. */
  manifestDigest: string;
  /** The image manifest. */
  manifest: ImageManifest;
  /** The image config. */
  config: ImageConfig;
  /** The layers' diff IDs, base first (the config's `rootfs.diff_ids`). */
  diffIds: string[];
}> {
  const mb = await source.manifest(platform, signal);
  const what = `${source.name}: manifest ${mb.digest}`;
  const doc = parseJsonBlob(mb.bytes, what, { max: MAX_MANIFEST_BYTES, digest: mb.digest });
  if (manifestKind(doc, mb.mediaType, what) !== 'manifest') throw invalidImage(what, 'an index where an image manifest was expected');
  const manifest: ImageManifest = parseManifest(doc, what);
  const configWhat = `${source.name}: config ${manifest.config.digest}`;
  const config: ImageConfig = parseConfig(
    parseJsonBlob(await readSmallBlob(source, manifest.config, MAX_CONFIG_BYTES, signal), configWhat, { max: MAX_CONFIG_BYTES }),
    configWhat,
  );
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw invalidImage(what, `${manifest.layers.length} layers but its config has ${diffIds.length} diff_ids`);
  }
  for (const l of manifest.layers) {
    if (!isLayerMediaType(l.mediaType))
      throw imageError(ImageErrorCode.UnsupportedImage, `${what}: unsupported layer media type ${l.mediaType}`);
  }
  return { manifestDigest: mb.digest, manifest, config, diffIds };
}

/** Runs tasks at most `n` at a time, in the order they ask. */
function limiter(n: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * Stores the image `source` holds (for `opts.platform`) as a chain of layers in `driver`,
 * each named by its chain ID's hex and skipped when already present. Every blob is checked
 * against its digest and size, and every layer against its diff ID, before it is kept; a
 * layer that fails is removed again. The caller still closes `source`.
 *
 * Throws ERR_IMAGE_NOT_FOUND (no manifest for the platform), ERR_IMAGE_INVALID,
 * ERR_DIGEST_MISMATCH, ERR_UNSUPPORTED_IMAGE, the source's errors (ERR_REGISTRY…) and the
 * driver's; aborting rejects with an AbortError.
 */
export async function importImage(driver: Driver, source: ImageSource, opts: ImportOptions = {}): Promise<ImportResult> {
  const { signal, stateDir } = opts;
  const emit = opts.onProgress ?? (() => {});
  signal?.throwIfAborted();
  const { manifestDigest, manifest, diffIds } = await readImage(source, opts.platform ?? hostPlatform(), signal);
  const chain = chainIds(diffIds).map(digestHex);
  const inflateDir = stateDir === undefined ? undefined : behindFileDir(stateDir);
  if (stateDir !== undefined) await sweepLayerRecordTemps(stateDir);
  if (inflateDir !== undefined) await sweepBehindFiles(inflateDir);

  const missing: number[] = [];
  for (let i = 0; i < chain.length; i++) if (!(await driver.exists(chain[i]))) missing.push(i);
  // a local image's missing or mis-sized blob is found before anything is written
  if (source.local) for (const i of missing) (await source.blob(manifest.layers[i], { signal })).destroy();
  emit({ type: 'plan', layers: missing.length, bytes: missing.reduce((n, i) => n + manifest.layers[i].size, 0) });

  // remote blobs go to the cache first, `jobs` at a time, all started now: while layer N is
  // applied the next ones download. Local blobs are read where they are.
  const cache = !source.local && stateDir !== undefined ? stateDir : undefined;
  const fetchAbort = new AbortController();
  const fetchSignal = signal ? AbortSignal.any([signal, fetchAbort.signal]) : fetchAbort.signal;
  const limit = limiter(Math.max(1, opts.jobs ?? 3));
  const fetches = new Map<string, { done: Promise<string>; progress: BlobProgress }>();
  const fetched = (desc: Descriptor) => {
    if (cache === undefined) return undefined;
    let f = fetches.get(desc.digest);
    if (!f) {
      const progress = new BlobProgress();
      const onBytes = (n: number) => emit({ type: 'bytes', bytes: n });
      const done = limit(() => fetchBlob(source, desc, cache, { signal: fetchSignal, onBytes, progress }));
      done.catch(() => {}); // awaited in order below; an early failure must not be unhandled
      f = { done, progress };
      fetches.set(desc.digest, f);
    }
    return f;
  };
  for (const i of missing) fetched(manifest.layers[i]);

  const layers: ImportedLayer[] = [];
  try {
    for (let i = 0; i < chain.length; i++) {
      signal?.throwIfAborted();
      const desc = manifest.layers[i];
      const id = chain[i];
      const parent = i === 0 ? null : chain[i - 1];
      const base = { id, parent, digest: desc.digest, mediaType: desc.mediaType, size: desc.size, diffId: diffIds[i] };
      const record = {
        digest: desc.digest,
        mediaType: desc.mediaType,
        size: desc.size,
        diffId: diffIds[i],
        ...(source.origin ? { origin: source.origin } : {}),
      };
      // checked again: another import may have made it meanwhile
      if (await driver.exists(id)) {
        layers.push({ ...base, compression: null, skipped: true });
        emit({ type: 'layer-done', index: i, id, skipped: true });
        continue;
      }
      emit({ type: 'layer', index: i, count: chain.length, digest: desc.digest });
      // a cached blob is read right behind its download, which checks it (`checked`)
      const fetch = fetched(desc);
      const input: LayerInput = fetch
        ? { open: async () => followBlob(fetch.progress), checked: fetch.done }
        : { open: () => source.blob(desc, { signal }) };
      const { applied, compression } = await applyVerified(driver, id, parent, input, desc, diffIds[i], {
        what: source.name,
        signal,
        // cached blobs count their bytes as they download
        onBytes: fetch ? undefined : (n) => emit({ type: 'bytes', bytes: n }),
        onEntries: (entries) => emit({ type: 'entries', entries }),
        inflateDir,
      });
      if (stateDir !== undefined) await writeLayerRecord(stateDir, id, record);
      layers.push({ ...base, compression, skipped: false, applied });
      emit({ type: 'layer-done', index: i, id, skipped: false });
    }
  } catch (err) {
    fetchAbort.abort();
    await Promise.allSettled([...fetches.values()].map((f) => f.done));
    throw err;
  }
  // the layers hold the content now; the cached blobs were only the way in
  if (cache !== undefined) await Promise.all([...fetches.keys()].map((d) => rm(cachedBlobPath(cache, d), { force: true })));
  return { manifest: manifestDigest, config: manifest.config.digest, top: chain.at(-1) ?? null, layers };
}

/** Where a layer's blob comes from. */
interface LayerInput {
  open(): Promise<Readable>;
  /**
   * Settles once the bytes `open` gives have been checked elsewhere (a cache download hashes
   * them as they arrive): rejects when they are not the blob. Without it they are checked here.
   */
  checked?: Promise<unknown>;
}

/**
 * Creates `id` on `parent` and applies the blob to it, checking the blob's digest and size and
 * the tar's diff ID on the way. The tar reader may stop at the end-of-archive marker, so what
 * it left is drained before the digests are compared; any failure removes the layer again.
 */
async function applyVerified(
  driver: Driver,
  id: string,
  parent: string | null,
  input: LayerInput,
  desc: Descriptor,
  diffId: string,
  o: { what: string; signal?: AbortSignal; onBytes?: (n: number) => void; onEntries: (n: number) => void; inflateDir?: string },
): Promise<{ applied: number; compression: Compression }> {
  const source = await input.open();
  // bytes checked elsewhere are not hashed twice
  const blob = input.checked
    ? undefined
    : new DigestCounter({ onBytes: o.onBytes, limit: desc.size, what: `${o.what}: layer blob ${desc.digest}` });
  if (blob) source.on('error', (err) => blob.destroy(err));
  const inflateDir = o.inflateDir !== undefined && desc.size <= behindFileLimit() / 3 ? o.inflateDir : undefined;
  const tar = await openLayerTar(blob ? source.pipe(blob) : source, inflateDir);
  const { compression } = tar;

  await driver.create(id, parent);
  try {
    const applied = await driver.applyDiff(id, parent, tar.input, { onProgress: (p) => o.onEntries(p.entries), signal: o.signal });
    await tar.rest();
    if (blob) {
      // bytes after the end of the compressed data (which the inflater leaves) count too
      if (!blob.readableEnded) await finished(blob.resume());
      if (blob.bytes !== desc.size) {
        throw imageError(
          ImageErrorCode.DigestMismatch,
          `${o.what}: layer blob ${desc.digest}: read ${blob.bytes} bytes, descriptor says ${desc.size}`,
        );
      }
      if (blob.digest !== desc.digest) throw digestMismatch(`${o.what}: layer blob`, desc.digest, blob.digest);
    } else await input.checked;
    if (tar.digest() !== diffId)
      throw digestMismatch(`${o.what}: layer ${desc.digest}: uncompressed content (diff ID)`, diffId, tar.digest());
    return { applied, compression };
  } catch (err) {
    tar.close();
    source.destroy();
    await driver.remove(id).catch(() => {});
    // a corrupt blob usually fails to decompress before its digest is known: name the cause
    if ((err as Error).name !== 'AbortError') {
      const mismatch = await blobMismatch(input, desc, o.what);
      if (mismatch) throw mismatch;
    }
    throw err;
  } finally {
    tar.close();
    source.destroy();
  }
}

/** ERR_DIGEST_MISMATCH when the blob is not what its descriptor says, else undefined. */
async function blobMismatch(input: LayerInput, desc: Descriptor, what: string): Promise<Error | undefined> {
  if (input.checked) {
    // the download goes on to its end and checks it
    const err = await input.checked.then(
      () => undefined,
      (e: unknown) => e,
    );
    return isGraphDriverError(err) && err.code === ImageErrorCode.DigestMismatch ? err : undefined;
  }
  const actual = await digestOfStream(input.open).catch(() => undefined);
  return actual && actual !== desc.digest ? digestMismatch(`${what}: layer blob`, desc.digest, actual) : undefined;
}

async function digestOfStream(open: () => Promise<Readable>): Promise<string> {
  return (await digestStream(await open())).digest;
}
