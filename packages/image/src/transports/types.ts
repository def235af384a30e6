// The seam between image operations (pull/push/import/export, in ../operations) and the places
// images live (an OCI layout, an oci-archive or docker-archive file, a registry). Operations
// only ever talk to these two interfaces, so every transport gets the same pipeline, checks
// and progress events. (containers/image's ImageSource/ImageDestination, trimmed.)
import type { Readable } from 'node:stream';

/** A platform an image runs on, in Go's names (as in an index's manifests and a config). */
export interface Platform {
  /** Operating system, e.g. `linux`. */
  os: string;
  /** CPU architecture, e.g. `amd64`, `arm64`. */
  architecture: string;
  /** CPU variant, e.g. `v8` (arm64) or `v7` (arm); unset matches any. */
  variant?: string;
}

/** An OCI content descriptor (also used for Docker schema 2 media types). */
export interface Descriptor {
  /** What the blob is (see {@link MediaType}). */
  mediaType: string;
  /** `sha256:<64 hex>` (the only algorithm accepted). */
  digest: string;
  /** The blob's exact length in bytes; a blob of another length is refused. */
  size: number;
  /** Other places to fetch the blob from (foreign layers); not used here. */
  urls?: string[];
  /** Free-form key/value metadata. */
  annotations?: Record<string, string>;
  /** In an index: the platform of the manifest this names. */
  platform?: Platform;
}

/** Where a registry blob came from: lets a push skip it or mount it across repositories. */
export interface BlobOrigin {
  /** `host[:port]`, e.g. `registry-1.docker.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path within the registry, e.g. `library/busybox`. */
  repository: string;
}

/** A resolved image manifest: the raw bytes (digest-verified) and their media type. */
export interface ManifestBytes {
  /** The manifest exactly as stored (its digest is over these bytes). */
  bytes: Buffer;
  /** Its media type (OCI manifest or Docker schema 2). */
  mediaType: string;
  /** `sha256:` digest of `bytes`. */
  digest: string;
}

/** Where an image is read from. */
export interface ImageSource {
  /** The transport reference, e.g. `docker://127.0.0.1:5000/app:1`, for messages. */
  readonly name: string;
  /** Set for registries: recorded per layer so that a later push can skip or mount the blob. */
  readonly origin?: BlobOrigin;
  /**
   * True when blobs are local files (a layout, an archive): they are applied straight from
   * the source. Remote blobs are first downloaded into the store's blob cache, where a
   * killed transfer resumes from.
   */
  readonly local?: boolean;
  /**
   * The image manifest for `platform`. An index or manifest list is resolved here to the
   * matching image manifest. The bytes are checked against their digest (when the reference
   * names one) and bounded in size; schema 1 and unknown media types are
   * ERR_UNSUPPORTED_IMAGE.
   */
  manifest(platform: Platform, signal?: AbortSignal): Promise<ManifestBytes>;
  /**
   * A blob's bytes starting at `offset` (0 by default: resuming a partial download asks for
   * the rest). The caller digests the whole blob and refuses a mismatch.
   */
  blob(desc: Descriptor, opts?: { offset?: number; signal?: AbortSignal }): Promise<Readable>;
  /** Releases the source (open files, connections); call it once done, also after a failure. */
  close(): Promise<void>;
}

/** Where an image is written. */
export interface ImageDestination {
  /** The transport reference, e.g. `oci:/tmp/layout:1`, for messages. */
  readonly name: string;
  /**
   * The manifest type this destination is written with (default: the OCI manifest).
   * docker-archive wants Docker's schema 2, whose layers `docker load` reads uncompressed.
   */
  readonly manifestType?: string;
  /** True when layers must be stored uncompressed here (docker-archive). */
  readonly uncompressedLayers?: boolean;
  /**
   * True when the destination already has this blob, so it need not be sent. A registry
   * asks with HEAD, and first tries a cross-repository mount when `from` names another
   * repository of the same registry.
   */
  hasBlob(desc: Descriptor, from?: BlobOrigin, signal?: AbortSignal): Promise<boolean>;
  /**
   * Stores a blob. `open` may be called again to retry from the start. When `info.digest` is
   * missing the destination computes it; it returns the stored blob's descriptor.
   */
  putBlob(open: () => Readable, info: { mediaType: string; digest?: string; size?: number }, signal?: AbortSignal): Promise<Descriptor>;
  /** Stores the manifest (under the destination's tag, if it has one); returns its digest. */
  putManifest(bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string>;
  /** Makes what was written visible (archives are written and renamed into place here). */
  commit(signal?: AbortSignal): Promise<void>;
  /** Releases everything; after a failure without commit, leaves nothing half-written. */
  close(): Promise<void>;
}
