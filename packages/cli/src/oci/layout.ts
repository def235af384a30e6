// The OCI image layout on disk (image-spec v1.1): `oci-layout`, `index.json`, and
// content-addressed blobs under `blobs/sha256/`. Only the parts an image of layers needs.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphDriverError } from '@graphdriver/core';
import { CliErrorCode } from '../cli-errors.js';
import { blobPath, digestMismatch, sha256 } from './digest.js';

export const MediaType = {
  Index: 'application/vnd.oci.image.index.v1+json',
  Manifest: 'application/vnd.oci.image.manifest.v1+json',
  Config: 'application/vnd.oci.image.config.v1+json',
  Layer: 'application/vnd.oci.image.layer.v1.tar',
  LayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  LayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const LAYOUT_FILE = 'oci-layout';
export const LAYOUT_VERSION = '1.0.0';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: Record<string, unknown>;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

const INDEX_TYPES: readonly string[] = [MediaType.Index, MediaType.DockerManifestList];
const MANIFEST_TYPES: readonly string[] = [MediaType.Manifest, MediaType.DockerManifest];
/** Layer media types we apply (including the non-distributable variants of the same tars). */
export function isLayerMediaType(mt: string): boolean {
  return (
    /^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip|\+zstd)?$/.test(mt) ||
    /^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?$/.test(mt)
  );
}

/** JSON documents (index, manifest, config) are small; a bound keeps a hostile one from eating memory. */
const MAX_JSON_BLOB = 64 << 20;

export function invalidLayout(dir: string, why: string, cause?: unknown): GraphDriverError {
  return new GraphDriverError(CliErrorCode.OciInvalid, `${dir}: not a valid OCI image layout: ${why}`, { cause });
}

async function readJson<T>(path: string, what: string, dir: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw invalidLayout(dir, `${what} is missing`, err);
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw invalidLayout(dir, `${what} is not JSON`, err);
  }
}

/** A layout directory that has been checked to be one. */
export class OciLayout {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<OciLayout> {
    const marker = await readJson<{ imageLayoutVersion?: string }>(join(dir, LAYOUT_FILE), LAYOUT_FILE, dir);
    if (typeof marker.imageLayoutVersion !== 'string' || !marker.imageLayoutVersion.startsWith('1.')) {
      throw invalidLayout(dir, `unsupported imageLayoutVersion ${JSON.stringify(marker.imageLayoutVersion)}`);
    }
    return new OciLayout(dir);
  }

  async index(): Promise<ImageIndex> {
    const index = await readJson<ImageIndex>(join(this.dir, 'index.json'), 'index.json', this.dir);
    if (!Array.isArray(index.manifests)) throw invalidLayout(this.dir, 'index.json has no manifests');
    return index;
  }

  blobPath(digest: string): string {
    return blobPath(this.dir, digest);
  }

  /** Size of a blob on disk, checked against its descriptor. */
  async checkBlobSize(desc: Descriptor): Promise<void> {
    let size: number;
    try {
      size = (await stat(this.blobPath(desc.digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw invalidLayout(this.dir, `blob ${desc.digest} is missing`, err);
      throw err;
    }
    if (size !== desc.size) {
      throw new GraphDriverError(CliErrorCode.DigestMismatch, `blob ${desc.digest}: size ${size} differs from the descriptor's ${desc.size}`);
    }
  }

  /** Reads a JSON blob and verifies its size and digest against the descriptor. */
  async readJsonBlob<T>(desc: Descriptor): Promise<T> {
    if (desc.size > MAX_JSON_BLOB) throw invalidLayout(this.dir, `blob ${desc.digest} is too large for a JSON document`);
    await this.checkBlobSize(desc);
    const data = await readFile(this.blobPath(desc.digest));
    const actual = sha256(data);
    if (actual !== desc.digest) throw digestMismatch(`blob ${desc.digest}`, desc.digest, actual);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw invalidLayout(this.dir, `blob ${desc.digest} is not JSON`, err);
    }
  }

  /**
   * The image manifest named `tag` (or the only one when no tag is given). A nested image
   * index (a multi-platform image) is resolved to the entry for `platform`.
   */
  async resolveManifest(tag: string | undefined, platform: Platform): Promise<{ descriptor: Descriptor; manifest: ImageManifest }> {
    const index = await this.index();
    let desc: Descriptor;
    if (tag !== undefined) {
      const tagged = index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
      if (!tagged) throw new GraphDriverError(CliErrorCode.ImageNotFound, `${this.dir}: no image tagged ${JSON.stringify(tag)} (tags: ${tagsOf(index).join(', ') || 'none'})`);
      desc = tagged;
    } else {
      if (index.manifests.length !== 1) {
        throw new GraphDriverError(
          CliErrorCode.ImageNotFound,
          `${this.dir}: holds ${index.manifests.length} images; name one with oci:DIR:TAG (tags: ${tagsOf(index).join(', ') || 'none'})`,
        );
      }
      desc = index.manifests[0];
    }
    for (let depth = 0; INDEX_TYPES.includes(desc.mediaType); depth++) {
      if (depth > 4) throw invalidLayout(this.dir, 'image indexes nested too deeply');
      const nested: ImageIndex = await this.readJsonBlob<ImageIndex>(desc);
      const match: Descriptor | undefined = nested.manifests.find(
        (d) => d.platform?.os === platform.os && d.platform?.architecture === platform.architecture,
      );
      if (!match) throw new GraphDriverError(CliErrorCode.ImageNotFound, `${this.dir}: no image for ${platform.os}/${platform.architecture} in ${desc.digest}`);
      desc = match;
    }
    if (!MANIFEST_TYPES.includes(desc.mediaType)) throw invalidLayout(this.dir, `unsupported manifest media type ${desc.mediaType}`);
    const manifest = await this.readJsonBlob<ImageManifest>(desc);
    if (!manifest.config || !Array.isArray(manifest.layers)) throw invalidLayout(this.dir, `manifest ${desc.digest} has no config or layers`);
    return { descriptor: desc, manifest };
  }
}

function tagsOf(index: ImageIndex): string[] {
  return index.manifests.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => !!t);
}

/** This machine's platform in OCI's words (Node's "x64" is OCI's "amd64"). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}
