// `docker-archive:FILE[:REF]`: the `docker save` format. A tar holding manifest.json
// (`[{Config, RepoTags, Layers}]`), the config and one tar per layer (uncompressed as Docker
// writes them; compressed ones are read too). Read in place; written into a staging directory
// next to FILE and archived at commit.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempPathIn } from '@graphdriver/core/linux';
import { ImageErrorCode, imageError, invalidImage, pathError } from '../errors.js';
import { writeArchive, type ArchiveMember } from '../archive/write-archive.js';
import { detectCompression } from '../compression/decompress.js';
import { DigestCounter, digestHex, sha256 } from '../model/digest.js';
import { MediaType, layerMediaType } from '../model/media-types.js';
import { MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, parseConfig, parseJsonBlob, parseManifest } from '../model/parse.js';
import type { ImageManifest } from '../model/types.js';
import { familiarDockerReference, formatDockerReference, type DockerReference } from '../reference.js';
import { digestStream } from '../util/streams.js';
import { archiveFiles, type BlobFiles } from './blob-files.js';
import type { BlobOrigin, Descriptor, ImageDestination, ImageSource, ManifestBytes } from './types.js';

interface SavedImage {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

function parseSaved(bytes: Buffer, where: string): SavedImage[] {
  const what = `${where}: manifest.json`;
  if (bytes.length > MAX_MANIFEST_BYTES) throw invalidImage(what, 'too big');
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalidImage(what, 'not JSON', err);
  }
  const ok = (e: unknown): e is SavedImage => {
    const o = e as Partial<SavedImage> | null;
    return (
      typeof o === 'object' &&
      o !== null &&
      typeof o.Config === 'string' &&
      Array.isArray(o.Layers) &&
      o.Layers.every((l) => typeof l === 'string') &&
      (o.RepoTags == null || (Array.isArray(o.RepoTags) && o.RepoTags.every((t) => typeof t === 'string')))
    );
  };
  if (!Array.isArray(doc) || !doc.every(ok)) throw invalidImage(what, 'expected [{Config, RepoTags, Layers}]');
  return doc;
}

async function head(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (have >= n) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Reads one image of a `docker save` archive, presented as a Docker schema 2 manifest. */
export class DockerArchiveSource implements ImageSource {
  readonly local = true;
  private constructor(
    readonly name: string,
    private readonly files: BlobFiles,
    private readonly manifestBytes: Buffer,
    private readonly paths: Map<string, string>,
  ) {}

  /**
   * Reads the archive's headers and `manifest.json` and picks the image tagged `ref` (or the
   * only image when `ref` is unset); `name` is the reference, for messages. A malformed
   * archive is ERR_IMAGE_INVALID, a tag it lacks ERR_IMAGE_NOT_FOUND.
   */
  static async open(file: string, ref: DockerReference | undefined, name: string): Promise<DockerArchiveSource> {
    const files = await archiveFiles(file);
    const images = parseSaved(await files.read('manifest.json', MAX_MANIFEST_BYTES), file);
    let image: SavedImage | undefined;
    if (ref) {
      const wanted = [familiarDockerReference(ref), formatDockerReference(ref)];
      image = images.find((i) => i.RepoTags?.some((t) => wanted.includes(t)));
      if (!image) {
        const tags = images.flatMap((i) => i.RepoTags ?? []);
        throw imageError(ImageErrorCode.ImageNotFound, `${file}: no image tagged ${wanted[0]} (tags: ${tags.join(', ') || 'none'})`);
      }
    } else {
      if (images.length !== 1)
        throw imageError(ImageErrorCode.ImageNotFound, `${file}: holds ${images.length} images; name one with docker-archive:FILE:REF`);
      image = images[0];
    }
    const configBytes = await files.read(image.Config, MAX_CONFIG_BYTES);
    const configDigest = sha256(configBytes);
    const config = parseConfig(
      parseJsonBlob(configBytes, `${file}: ${image.Config}`, { max: MAX_CONFIG_BYTES }),
      `${file}: ${image.Config}`,
    );
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== image.Layers.length) {
      throw invalidImage(file, `manifest.json lists ${image.Layers.length} layers but the config ${diffIds.length} diff_ids`);
    }
    const paths = new Map<string, string>([[configDigest, image.Config]]);
    const layers: Descriptor[] = [];
    for (let i = 0; i < image.Layers.length; i++) {
      const path = image.Layers[i];
      const size = await files.size(path);
      if (size === undefined) throw invalidImage(file, `layer ${path} is missing from the archive`);
      const compression = detectCompression(await head(files.stream(path), 4));
      // an uncompressed layer's digest is its diff ID (and is checked as it is read); a
      // compressed one is hashed here, once
      const digest = compression === 'none' ? diffIds[i] : (await digestStream(files.stream(path))).digest;
      paths.set(digest, path);
      layers.push({ mediaType: layerMediaType(MediaType.DockerManifest, compression), digest, size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    return new DockerArchiveSource(name, files, Buffer.from(JSON.stringify(manifest)), paths);
  }

  async manifest(): Promise<ManifestBytes> {
    return { bytes: this.manifestBytes, mediaType: MediaType.DockerManifest, digest: sha256(this.manifestBytes) };
  }

  async blob(desc: Descriptor, opts: { offset?: number } = {}): Promise<Readable> {
    const path = this.paths.get(desc.digest);
    if (path === undefined) throw invalidImage(this.files.where, `no blob ${desc.digest} in the archive`);
    return this.files.stream(path, opts.offset ?? 0);
  }

  /** Nothing to release: the archive is opened per read. */
  async close(): Promise<void> {}
}

/** Writes one image as a `docker save` archive (tagged `ref` when one is given). */
export class DockerArchiveDestination implements ImageDestination {
  readonly manifestType = MediaType.DockerManifest;
  readonly uncompressedLayers = true;
  private manifest?: ImageManifest;

  private constructor(
    private readonly file: string,
    private readonly staging: string,
    private readonly ref: DockerReference | undefined,
    /** The transport reference, for messages. */
    readonly name: string,
  ) {}

  /**
   * Makes the staging directory beside `file` (ERR_INVALID_OPTION when it cannot be written);
   * the archive is written and renamed into place at commit.
   */
  static async create(file: string, ref: DockerReference | undefined, name: string): Promise<DockerArchiveDestination> {
    const staging = await mkdtemp(join(dirname(file), `.${basename(file)}.staging-`)).catch((err: unknown) => {
      throw pathError(err, `cannot write the docker-archive ${file}`);
    });
    return new DockerArchiveDestination(file, staging, ref, name);
  }

  async hasBlob(desc: Descriptor, _from?: BlobOrigin): Promise<boolean> {
    return stat(join(this.staging, digestHex(desc.digest))).then(
      (s) => s.size === desc.size,
      () => false,
    );
  }

  async putBlob(open: () => Readable, info: { mediaType: string; digest?: string }, signal?: AbortSignal): Promise<Descriptor> {
    const tmp = tempPathIn(this.staging);
    const counter = new DigestCounter();
    try {
      await pipeline(open(), counter, createWriteStream(tmp), { signal });
      if (info.digest !== undefined && counter.digest !== info.digest) {
        throw imageError(ImageErrorCode.DigestMismatch, `${this.name}: blob ${info.digest}: the bytes written hash to ${counter.digest}`);
      }
      await rename(tmp, join(this.staging, digestHex(counter.digest)));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return { mediaType: info.mediaType, digest: counter.digest, size: counter.bytes };
  }

  async putManifest(bytes: Buffer): Promise<string> {
    const what = `${this.name}: manifest`;
    this.manifest = parseManifest(parseJsonBlob(bytes, what, { max: MAX_MANIFEST_BYTES }), what);
    return sha256(bytes);
  }

  async commit(signal?: AbortSignal): Promise<void> {
    const m = this.manifest;
    if (!m) throw new Error('commit before putManifest');
    const config = `${digestHex(m.config.digest)}.json`;
    const layers = m.layers.map((l) => `${digestHex(l.digest)}/layer.tar`);
    const saved: SavedImage[] = [
      {
        Config: config,
        RepoTags: this.ref?.tag !== undefined ? [familiarDockerReference({ ...this.ref, digest: undefined })] : null,
        Layers: layers,
      },
    ];
    const members: ArchiveMember[] = [
      { name: 'manifest.json', bytes: Buffer.from(JSON.stringify(saved)) },
      { name: config, path: join(this.staging, digestHex(m.config.digest)) },
    ];
    const seen = new Set<string>();
    for (const l of m.layers) {
      const hex = digestHex(l.digest);
      if (seen.has(hex)) continue;
      seen.add(hex);
      members.push({ name: hex, dir: true }, { name: `${hex}/layer.tar`, path: join(this.staging, hex) });
    }
    await writeArchive(this.file, members, { signal });
  }

  async close(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
