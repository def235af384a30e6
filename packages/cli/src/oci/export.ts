// `export ID oci:DIR[:TAG]`: writes the chain of layers ending at ID as an OCI image: one
// gzip blob per layer (its diff against its parent), a config whose diff_ids are the
// uncompressed digests, a manifest, and an entry in index.json, as skopeo and umoci expect.
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { errLayerNotFound, layerRecord, makeDirs, throwIfAborted, writeFileAtomic, type Driver } from '@graphdriver/core';
import { GraphDriverError } from '@graphdriver/core';
import { tempPathIn } from '@graphdriver/core/linux';
import { CliErrorCode, pathError } from '../cli-errors.js';
import type { Progress } from '../progress.js';
import { DigestCounter, blobPath, sha256 } from './digest.js';
import {
  LAYOUT_FILE,
  LAYOUT_VERSION,
  MediaType,
  REF_NAME,
  hostPlatform,
  invalidLayout,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from './layout.js';
import type { OciReference } from './reference.js';

export interface ExportedLayer {
  id: string;
  parent: string | null;
  digest: string;
  diffId: string;
  size: number;
}

export interface ExportResult {
  manifest: string;
  config: string;
  layers: ExportedLayer[];
}

/** Ids from the bottom of the chain up to `id`, following the store's parent links. */
export async function layerChain(driver: Driver, id: string): Promise<string[]> {
  if (!(await driver.exists(id))) throw errLayerNotFound(id);
  const chain: string[] = [];
  const seen = new Set<string>();
  for (let cur: string | null = id; cur; ) {
    if (seen.has(cur)) throw new GraphDriverError(CliErrorCode.Internal, `layer ${id}: parent links form a cycle at ${cur}`);
    seen.add(cur);
    chain.push(cur);
    const rec = layerRecord(driver, cur);
    if (!rec) {
      throw new GraphDriverError(
        CliErrorCode.Internal,
        `the ${driver.name} driver keeps no layer records, so the chain of ${id} cannot be followed`,
      );
    }
    cur = rec.parent;
  }
  return chain.reverse();
}

/** With `signal`: stops at once, removing the blob being written (blobs already placed are whole). */
export async function exportImage(
  driver: Driver,
  id: string,
  ref: OciReference,
  progress: Progress,
  signal?: AbortSignal,
): Promise<ExportResult> {
  const chain = await layerChain(driver, id);
  await prepareLayout(ref.dir);

  const layers: ExportedLayer[] = [];
  for (let i = 0; i < chain.length; i++) {
    const parent = i === 0 ? null : chain[i - 1];
    progress.part(`layer ${i + 1}/${chain.length}`);
    throwIfAborted(signal, 'export');
    const { digest, diffId, size } = await writeLayerBlob(driver, ref.dir, chain[i], parent, progress, signal);
    layers.push({ id: chain[i], parent, digest, diffId, size });
  }

  const created = new Date().toISOString();
  const platform = hostPlatform();
  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: `graphdriver export (layer ${l.id})` })),
  };
  throwIfAborted(signal, 'export');
  const configDesc = await writeJsonBlob(ref.dir, MediaType.Config, config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.Manifest,
    config: configDesc,
    layers: layers.map((l) => ({ mediaType: MediaType.LayerGzip, digest: l.digest, size: l.size })),
  };
  const manifestDesc = await writeJsonBlob(ref.dir, MediaType.Manifest, manifest);
  await addToIndex(ref.dir, { ...manifestDesc, ...(ref.tag !== undefined ? { annotations: { [REF_NAME]: ref.tag } } : {}) }, ref.tag);
  return { manifest: manifestDesc.digest, config: configDesc.digest, layers };
}

/** Makes DIR a layout (or checks that it already is one). */
async function prepareLayout(dir: string): Promise<void> {
  await makeDirs(join(dir, 'blobs', 'sha256')).catch((err) => {
    throw pathError(err, `cannot write the image layout ${dir}`);
  });
  const marker = join(dir, LAYOUT_FILE);
  try {
    const existing = JSON.parse(await readFile(marker, 'utf8')) as { imageLayoutVersion?: string };
    if (!existing.imageLayoutVersion?.startsWith('1.'))
      throw invalidLayout(dir, `unsupported imageLayoutVersion ${existing.imageLayoutVersion}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await writeFileAtomic(marker, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }), 0o644);
  }
}

/** Streams diff(id, parent) through gzip into a blob, hashing both sides on the way. */
async function writeLayerBlob(driver: Driver, dir: string, id: string, parent: string | null, progress: Progress, signal?: AbortSignal) {
  const tmp = tempPathIn(join(dir, 'blobs', 'sha256'));
  const tar = new DigestCounter((n) => progress.addBytes(n));
  const blob = new DigestCounter();
  let file: WriteStream | undefined;
  try {
    const diff = await driver.diff(id, parent, { signal });
    file = createWriteStream(tmp, { mode: 0o644 });
    await pipeline(diff, tar, createGzip(), blob, file, { signal });
    await placeBlob(tmp, blobPath(dir, blob.digest));
  } catch (err) {
    // a stream destroyed while still opening creates the file after all: wait for it to close
    if (file && !file.closed) await once(file, 'close').catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return { digest: blob.digest, diffId: tar.digest, size: blob.bytes };
}

async function writeJsonBlob(dir: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const data = Buffer.from(JSON.stringify(value));
  const digest = sha256(data);
  const path = blobPath(dir, digest);
  const exists = await stat(path).then(
    (s) => s.size === data.length,
    () => false,
  );
  if (!exists) await writeFileAtomic(path, data, 0o644);
  return { mediaType, digest, size: data.length };
}

/** Content-addressed: a blob that is already there is the same bytes. */
async function placeBlob(tmp: string, path: string): Promise<void> {
  if (
    await stat(path).then(
      () => true,
      () => false,
    )
  ) {
    await unlink(tmp);
    return;
  }
  await rename(tmp, path);
}

/** Adds the manifest to index.json, replacing the image that had the same tag (or no tag). */
async function addToIndex(dir: string, desc: Descriptor, tag: string | undefined): Promise<void> {
  const path = join(dir, 'index.json');
  let index: ImageIndex;
  try {
    index = JSON.parse(await readFile(path, 'utf8')) as ImageIndex;
    if (!Array.isArray(index.manifests)) throw invalidLayout(dir, 'index.json has no manifests');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    index = { schemaVersion: 2, mediaType: MediaType.Index, manifests: [] };
  }
  index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== tag);
  index.manifests.push(desc);
  await writeFileAtomic(path, JSON.stringify(index), 0o644);
}
