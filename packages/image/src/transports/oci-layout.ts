// The OCI image layout (image-spec v1.1): `oci-layout`, `index.json` and content-addressed
// blobs under `blobs/sha256/`. Read from a directory or an oci-archive's members; written
// into a directory (blobs first, index.json last, each file renamed into place).
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempPathIn } from '@graphdriver/core/linux';
import { makeDirs, writeFileAtomic } from '@graphdriver/core';
import { ImageErrorCode, imageError, invalidImage, pathError } from '../errors.js';
import { DigestCounter, digestHex, sha256 } from '../model/digest.js';
import { MediaType, isIndexType } from '../model/media-types.js';
import { MAX_MANIFEST_BYTES, manifestKind, parseIndex, parseJsonBlob } from '../model/parse.js';
import { formatPlatform, selectPlatform } from '../model/platform.js';
import type { ImageIndex } from '../model/types.js';
import type { BlobFiles } from './blob-files.js';
import type { BlobOrigin, Descriptor, ImageDestination, ImageSource, ManifestBytes, Platform } from './types.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const LAYOUT_FILE = 'oci-layout';
export const LAYOUT_VERSION = '1.0.0';
const MAX_NESTING = 4;

export const blobPath = (digest: string) => `blobs/sha256/${digestHex(digest)}`;

function tagsOf(index: ImageIndex): string[] {
  return index.manifests.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => !!t);
}

async function readIndex(files: BlobFiles): Promise<ImageIndex> {
  const marker = parseJsonBlob(await files.read(LAYOUT_FILE, 4096), `${files.where}: ${LAYOUT_FILE}`, { max: 4096 });
  const version = marker.imageLayoutVersion;
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw invalidImage(files.where, `not an OCI image layout: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
  }
  const what = `${files.where}: index.json`;
  return parseIndex(parseJsonBlob(await files.read('index.json', MAX_MANIFEST_BYTES), what, { max: MAX_MANIFEST_BYTES }), what);
}

/** Reads an image from an OCI layout (a directory, or an oci-archive's members). */
export class OciLayoutSource implements ImageSource {
  readonly local = true;
  constructor(
    private readonly files: BlobFiles,
    readonly name: string,
    private readonly tag: string | undefined,
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  async manifest(platform: Platform): Promise<ManifestBytes> {
    const index = await readIndex(this.files);
    const where = this.files.where;
    let desc: Descriptor;
    if (this.tag !== undefined) {
      const tagged = index.manifests.find((d) => d.annotations?.[REF_NAME] === this.tag);
      if (!tagged)
        throw imageError(
          ImageErrorCode.ImageNotFound,
          `${where}: no image tagged ${JSON.stringify(this.tag)} (tags: ${tagsOf(index).join(', ') || 'none'})`,
        );
      desc = tagged;
    } else {
      if (index.manifests.length !== 1) {
        throw imageError(
          ImageErrorCode.ImageNotFound,
          `${where}: holds ${index.manifests.length} images; name one with :TAG (tags: ${tagsOf(index).join(', ') || 'none'})`,
        );
      }
      desc = index.manifests[0];
    }
    for (let depth = 0; ; depth++) {
      if (depth > MAX_NESTING) throw invalidImage(where, 'image indexes nested too deeply');
      const bytes = await this.readBlob(desc, MAX_MANIFEST_BYTES);
      const what = `${where}: manifest ${desc.digest}`;
      const doc = parseJsonBlob(bytes, what, { max: MAX_MANIFEST_BYTES, digest: desc.digest });
      if (manifestKind(doc, desc.mediaType, what) === 'manifest') return { bytes, mediaType: desc.mediaType, digest: desc.digest };
      const match = selectPlatform(parseIndex(doc, what).manifests, platform);
      if (!match)
        throw imageError(ImageErrorCode.ImageNotFound, `${where}: no image for ${formatPlatform(platform)} in index ${desc.digest}`);
      desc = match;
      if (!isIndexType(desc.mediaType) && desc.mediaType !== MediaType.Manifest && desc.mediaType !== MediaType.DockerManifest) {
        throw imageError(ImageErrorCode.UnsupportedImage, `${where}: unsupported manifest media type ${desc.mediaType}`);
      }
    }
  }

  private async readBlob(desc: Descriptor, max: number): Promise<Buffer> {
    if (desc.size > max) throw invalidImage(this.files.where, `blob ${desc.digest} is ${desc.size} bytes, over the ${max}-byte limit`);
    return this.files.read(blobPath(desc.digest), max);
  }

  async blob(desc: Descriptor, opts: { offset?: number } = {}): Promise<Readable> {
    const path = blobPath(desc.digest);
    const size = await this.files.size(path);
    if (size === undefined) throw invalidImage(this.files.where, `blob ${desc.digest} is missing`);
    if (size !== desc.size) {
      throw imageError(
        ImageErrorCode.DigestMismatch,
        `${this.files.where}: blob ${desc.digest}: size ${size} differs from the descriptor's ${desc.size}`,
      );
    }
    return this.files.stream(path, opts.offset ?? 0);
  }

  /** Releases what the source holds open (nothing for a directory). */
  close(): Promise<void> {
    return this.release();
  }
}

/**
 * Writes an image into an OCI layout directory (made if missing). Blobs land under
 * `blobs/sha256/` as they come (a temp file renamed to its digest: content-addressed, so a
 * blob already there is the same bytes); index.json names the image only at commit.
 */
export class OciLayoutDestination implements ImageDestination {
  private manifestDesc?: Descriptor;
  private readonly temps = new Set<string>();
  private prepared?: Promise<void>;

  /**
   * @param dir - The layout's directory (made at the first write).
   * @param name - The transport reference, for messages.
   * @param tag - The `org.opencontainers.image.ref.name` to give the image in index.json (replacing an image of that name).
   */
  constructor(
    /** The layout's directory. */
    readonly dir: string,
    /** The transport reference, for messages. */
    readonly name: string,
    private readonly tag: string | undefined,
  ) {}

  private prepare(): Promise<void> {
    return (this.prepared ??= (async () => {
      await makeDirs(join(this.dir, 'blobs', 'sha256')).catch((err: unknown) => {
        throw pathError(err, `cannot write the image layout ${this.dir}`);
      });
      const marker = join(this.dir, LAYOUT_FILE);
      let text: string | undefined;
      try {
        text = await readFile(marker, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (text === undefined) return writeFileAtomic(marker, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }), 0o644);
      const doc = parseJsonBlob(Buffer.from(text), `${this.dir}: ${LAYOUT_FILE}`, { max: 4096 });
      if (typeof doc.imageLayoutVersion !== 'string' || !doc.imageLayoutVersion.startsWith('1.')) {
        throw invalidImage(this.dir, `unsupported imageLayoutVersion ${JSON.stringify(doc.imageLayoutVersion)}`);
      }
    })());
  }

  async hasBlob(desc: Descriptor, _from?: BlobOrigin): Promise<boolean> {
    await this.prepare();
    return stat(join(this.dir, blobPath(desc.digest))).then(
      (s) => s.size === desc.size,
      () => false,
    );
  }

  async putBlob(
    open: () => Readable,
    info: { mediaType: string; digest?: string; size?: number },
    signal?: AbortSignal,
  ): Promise<Descriptor> {
    await this.prepare();
    const tmp = tempPathIn(join(this.dir, 'blobs', 'sha256'));
    this.temps.add(tmp);
    const counter = new DigestCounter();
    try {
      await pipeline(open(), counter, createWriteStream(tmp, { mode: 0o644 }), { signal });
      if (info.digest !== undefined && counter.digest !== info.digest) {
        throw imageError(ImageErrorCode.DigestMismatch, `${this.name}: blob ${info.digest}: the bytes written hash to ${counter.digest}`);
      }
      await rename(tmp, join(this.dir, blobPath(counter.digest)));
      this.temps.delete(tmp);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      this.temps.delete(tmp);
      throw err;
    }
    return { mediaType: info.mediaType, digest: counter.digest, size: counter.bytes };
  }

  async putManifest(bytes: Buffer, mediaType: string): Promise<string> {
    await this.prepare();
    const digest = sha256(bytes);
    const path = join(this.dir, blobPath(digest));
    if (
      !(await stat(path).then(
        (s) => s.size === bytes.length,
        () => false,
      ))
    )
      await writeFileAtomic(path, bytes, 0o644);
    this.manifestDesc = { mediaType, digest, size: bytes.length };
    return digest;
  }

  /** Adds the manifest to index.json, replacing the image that had the same tag (or no tag). */
  async commit(): Promise<void> {
    if (!this.manifestDesc) throw new Error('commit before putManifest');
    const path = join(this.dir, 'index.json');
    let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.Index, manifests: [] };
    let text: Buffer | undefined;
    try {
      text = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      const what = `${this.dir}: index.json`;
      index = { ...parseIndex(parseJsonBlob(text, what, { max: MAX_MANIFEST_BYTES }), what), mediaType: MediaType.Index };
    }
    index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== this.tag);
    index.manifests.push({ ...this.manifestDesc, ...(this.tag !== undefined ? { annotations: { [REF_NAME]: this.tag } } : {}) });
    await writeFileAtomic(path, JSON.stringify(index), 0o644);
  }

  /** Removes the temporary files of blobs not finished; blobs stored and a committed index.json stay. */
  async close(): Promise<void> {
    await Promise.all([...this.temps].map((t) => rm(t, { force: true })));
  }
}
