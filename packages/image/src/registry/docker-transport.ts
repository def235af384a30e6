// The docker:// transport's two ends: an image in a registry, read as an ImageSource and
// written as an ImageDestination, on top of the registry client. The source resolves an
// index to the platform asked for and records where its blobs came from (`origin`), so a
// later push to the same registry can mount them instead of sending them again.
import type { Readable } from 'node:stream';
import { ImageErrorCode, imageError } from '../errors.js';
import { sha256 } from '../model/digest.js';
import { isManifestType } from '../model/media-types.js';
import { MAX_MANIFEST_BYTES, parseIndex, parseJsonBlob } from '../model/parse.js';
import { formatPlatform, selectPlatform } from '../model/platform.js';
import { formatDockerReference, type DockerReference } from '../reference.js';
import type { BlobOrigin, Descriptor, ImageDestination, ImageSource, ManifestBytes, Platform } from '../transports/types.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { apiHost, sameRegistry } from './reference.js';

/** Options of a {@link DockerSource} or {@link DockerDestination}: the client's, or a client to share. */
export interface DockerTransportOptions extends RegistryClientOptions {
  /** A client to share (e.g. one per registry for a whole copy); closed by its owner, not here. */
  client?: RegistryClient;
}

/** What both ends share: the reference, its name, and a client (owned unless one was given). */
export abstract class DockerEndpoint {
  /** `docker://` and the reference, for messages. */
  readonly name: string;
  /** The client calls go through. */
  protected readonly client: RegistryClient;
  private readonly owned: boolean;

  constructor(
    /** The image in the registry. */
    readonly ref: DockerReference,
    opts: DockerTransportOptions,
  ) {
    this.name = `docker://${formatDockerReference(ref)}`;
    if (opts.client && !sameRegistry(opts.client.registry, ref.registry)) {
      throw new TypeError(`client for ${opts.client.registry} given for ${ref.registry}`);
    }
    this.owned = !opts.client;
    this.client = opts.client ?? new RegistryClient(ref.registry, opts);
  }

  /** Closes the client's connections, unless the client was given (its owner closes it). */
  async close(): Promise<void> {
    if (this.owned) this.client.close();
  }
}

export class DockerSource extends DockerEndpoint implements ImageSource {
  readonly origin: BlobOrigin;

  constructor(ref: DockerReference, opts: DockerTransportOptions = {}) {
    super(ref, opts);
    this.origin = { registry: apiHost(ref.registry), repository: ref.repository };
  }

  async manifest(platform: Platform, signal?: AbortSignal): Promise<ManifestBytes> {
    const { repository } = this.ref;
    const top = await this.client.getManifest(repository, this.ref.digest ?? this.ref.tag ?? 'latest', signal);
    if (isManifestType(top.mediaType)) return top;
    const index = parseIndex(parseJsonBlob(top.bytes, this.name, { max: MAX_MANIFEST_BYTES }), this.name);
    const chosen = selectPlatform(index.manifests, platform);
    if (!chosen) {
      const has = index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : '?')).join(', ') || 'nothing';
      throw imageError(ImageErrorCode.ImageNotFound, `${this.name} has no image for ${formatPlatform(platform)} (it has ${has})`);
    }
    if (!isManifestType(chosen.mediaType)) {
      throw imageError(
        ImageErrorCode.UnsupportedImage,
        `${this.name}: the index entry for ${formatPlatform(platform)} is a ${chosen.mediaType}, not an image manifest`,
      );
    }
    const image = await this.client.getManifest(repository, chosen.digest, signal);
    if (!isManifestType(image.mediaType)) {
      throw imageError(ImageErrorCode.UnsupportedImage, `${this.name}: ${chosen.digest} is a ${image.mediaType}, not an image manifest`);
    }
    return image;
  }

  blob(desc: Descriptor, opts: { offset?: number; signal?: AbortSignal } = {}): Promise<Readable> {
    // the caller digests the blob: no second hash here
    return this.client.getBlob(this.ref.repository, desc.digest, { offset: opts.offset, size: desc.size, signal: opts.signal });
  }
}

export class DockerDestination extends DockerEndpoint implements ImageDestination {
  constructor(ref: DockerReference, opts: DockerTransportOptions = {}) {
    super(ref, opts);
  }

  async hasBlob(desc: Descriptor, from?: BlobOrigin, signal?: AbortSignal): Promise<boolean> {
    const { repository } = this.ref;
    if (from && from.repository !== repository && sameRegistry(from.registry, this.ref.registry)) {
      if (await this.client.mountBlob(repository, desc.digest, from.repository, signal)) return true;
    }
    const size = await this.client.blobSize(repository, desc.digest, signal);
    return size !== undefined;
  }

  async putBlob(
    open: () => Readable,
    info: { mediaType: string; digest?: string; size?: number },
    signal?: AbortSignal,
  ): Promise<Descriptor> {
    const { digest, size } = await this.client.uploadBlob(this.ref.repository, open, { digest: info.digest, size: info.size, signal });
    return { mediaType: info.mediaType, digest, size };
  }

  /** PUT under the reference's tag; without one, by digest (which must equal the reference's, if it names one). */
  putManifest(bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const reference = this.ref.tag ?? this.ref.digest ?? sha256(bytes);
    return this.client.putManifest(this.ref.repository, reference, bytes, mediaType, signal);
  }

  /** A registry makes an image visible with its manifest PUT: nothing left to do. */
  async commit(): Promise<void> {}
}
