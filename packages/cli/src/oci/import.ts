// `import oci:DIR[:TAG]`: applies an OCI image's layers as a chain of layers named by
// their chain IDs. Every blob is verified: JSON blobs before use, layer blobs (digest and
// size) and their uncompressed tars (the config's diff_ids) while they stream into the
// driver. A layer that fails verification is removed again.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { GraphDriverError, throwIfAborted, type Driver } from '@graphdriver/core';
import { CliErrorCode } from '../cli-errors.js';
import { decompressAuto, type Compression } from '../compression.js';
import type { Progress } from '../progress.js';
import { DigestCounter, chainIds, digestHex, digestMismatch, fileDigest } from './digest.js';
import {
  OciLayout,
  hostPlatform,
  invalidLayout,
  isLayerMediaType,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
} from './layout.js';
import type { OciReference } from './reference.js';

export interface ImportedLayer {
  /** Layer id in the store: the chain ID's hex. */
  id: string;
  parent: string | null;
  digest: string;
  diffId: string;
  /** Compressed size of the blob. */
  size: number;
  compression: Compression | null;
  /** True when the layer was already in the store. */
  skipped: boolean;
  /** Bytes applied (sum of entry sizes), for new layers. */
  applied?: number;
}

export interface ImportResult {
  manifest: string;
  config: string;
  /** Id of the top layer (the image's root filesystem). */
  top: string | null;
  layers: ImportedLayer[];
}

/** What an import will do, worked out (and every blob checked to be there) before it writes. */
export interface ImportPlan {
  layout: OciLayout;
  manifestDigest: string;
  manifest: ImageManifest;
  diffIds: string[];
  /** Layer ids: the chain IDs' hex. */
  chain: string[];
  /** Compressed bytes still to read: the progress bar's total. */
  bytes: number;
}

export async function planImport(driver: Driver, ref: OciReference): Promise<ImportPlan> {
  const layout = await OciLayout.open(ref.dir);
  const { descriptor, manifest } = await layout.resolveManifest(ref.tag, hostPlatform());
  const config = await layout.readJsonBlob<ImageConfig>(manifest.config);
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds)) throw invalidLayout(ref.dir, `config ${manifest.config.digest} has no rootfs.diff_ids`);
  if (diffIds.length !== manifest.layers.length) {
    throw invalidLayout(ref.dir, `manifest has ${manifest.layers.length} layers but its config ${diffIds.length} diff_ids`);
  }
  const chain = chainIds(diffIds).map(digestHex);
  let bytes = 0;
  for (let i = 0; i < chain.length; i++) {
    const desc = manifest.layers[i];
    if (!isLayerMediaType(desc.mediaType)) throw invalidLayout(ref.dir, `unsupported layer media type ${desc.mediaType}`);
    if (!(await driver.exists(chain[i]))) {
      await layout.checkBlobSize(desc);
      bytes += desc.size;
    }
  }
  return { layout, manifestDigest: descriptor.digest, manifest, diffIds, chain, bytes };
}

/** With `signal`: stops at once; the layer being applied is removed, those done stay. */
export async function runImport(driver: Driver, plan: ImportPlan, progress: Progress, signal?: AbortSignal): Promise<ImportResult> {
  const { layout, manifest, diffIds, chain } = plan;
  const layers: ImportedLayer[] = [];
  for (let i = 0; i < chain.length; i++) {
    const desc = manifest.layers[i];
    const id = chain[i];
    const parent = i === 0 ? null : chain[i - 1];
    const base = { id, parent, digest: desc.digest, diffId: diffIds[i], size: desc.size };
    throwIfAborted(signal, 'import');
    // checked again: another import may have made it since the plan
    if (await driver.exists(id)) {
      layers.push({ ...base, compression: null, skipped: true });
      continue;
    }
    progress.part(`layer ${i + 1}/${chain.length}`);
    const { applied, compression } = await applyVerified(
      driver,
      id,
      parent,
      layout.blobPath(desc.digest),
      desc,
      diffIds[i],
      progress,
      signal,
    );
    layers.push({ ...base, compression, skipped: false, applied });
  }
  return { manifest: plan.manifestDigest, config: manifest.config.digest, top: chain.at(-1) ?? null, layers };
}

/**
 * Creates `id` on `parent` and applies the blob at `path` to it, checking the blob's digest
 * and size and the tar's diffID. The tar reader may stop at the end-of-archive marker, so
 * whatever it left is drained before the digests are compared.
 */
async function applyVerified(
  driver: Driver,
  id: string,
  parent: string | null,
  path: string,
  { digest, size }: Descriptor,
  diffId: string,
  progress: Progress,
  signal?: AbortSignal,
): Promise<{ applied: number; compression: Compression }> {
  const blob = new DigestCounter((n) => progress.addBytes(n));
  const file: Readable = createReadStream(path, { highWaterMark: 1 << 20 });
  file.on('error', (err) => blob.destroy(err));
  const { compression, stream } = await decompressAuto(file.pipe(blob));
  const tar = new DigestCounter();
  stream.on('error', (err) => tar.destroy(err));
  stream.pipe(tar);
  // an iterable that does not destroy the stream when the reader stops early
  const input = { [Symbol.asyncIterator]: () => tar.iterator({ destroyOnReturn: false }) };

  await driver.create(id, parent);
  try {
    const applied = await driver.applyDiff(id, parent, input, { onProgress: (p) => progress.entries(p.entries), signal });
    for await (const _ of tar.iterator({ destroyOnReturn: true })) {
      // drain: the digests cover every byte
    }
    // bytes after the end of the compressed data (which the inflater leaves) count too
    if (!blob.readableEnded) await finished(blob.resume());
    if (blob.bytes !== size) {
      throw new GraphDriverError(CliErrorCode.DigestMismatch, `layer blob ${digest}: read ${blob.bytes} bytes, descriptor says ${size}`);
    }
    if (blob.digest !== digest) throw digestMismatch(`layer blob`, digest, blob.digest);
    if (tar.digest !== diffId) throw digestMismatch(`layer ${digest}: uncompressed content (diffID)`, diffId, tar.digest);
    return { applied, compression };
  } catch (err) {
    tar.destroy();
    file.destroy();
    await driver.remove(id).catch(() => {});
    if (signal?.aborted) throw err;
    // a corrupt blob usually fails to decompress before its digest is known: name the cause
    const actual = await fileDigest(path).catch(() => undefined);
    if (actual && actual !== digest) throw digestMismatch('layer blob', digest, actual);
    throw err;
  } finally {
    file.destroy();
  }
}
