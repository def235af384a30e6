// The JSON documents an image is made of (OCI image-spec v1.1; Docker's schema 2 has the same
// shapes under other media types).
import type { Descriptor, Platform } from '../transports/types.js';

export type { Descriptor, Platform };

/** An OCI image index (or Docker manifest list): one manifest per platform, as {@link parseIndex} returns it. */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: 2;
  /** {@link MediaType}.Index or .DockerManifestList; may be absent in an OCI index. */
  mediaType?: string;
  /** The manifests, each with its `platform` when it is an image. */
  manifests: Descriptor[];
  /** Free-form key/value metadata (`org.opencontainers.image.ref.name` names a tag in a layout). */
  annotations?: Record<string, string>;
}

/** An image manifest (OCI, or Docker schema 2): the config and the layers, base first, as {@link parseManifest} returns it. */
export interface ImageManifest {
  /** Always 2 (schema 1 is refused with ERR_UNSUPPORTED_IMAGE). */
  schemaVersion: 2;
  /** {@link MediaType}.Manifest or .DockerManifest; may be absent in an OCI manifest. */
  mediaType?: string;
  /** The image config blob. */
  config: Descriptor;
  /** The layer blobs, base first; their uncompressed digests are the config's `rootfs.diff_ids`. */
  layers: Descriptor[];
  /** Free-form key/value metadata. */
  annotations?: Record<string, string>;
}

/** One step of an image config's `history` (informational; nothing is checked against it). */
export interface HistoryEntry {
  /** When the step ran, RFC 3339. */
  created?: string;
  /** The command that made it (a Dockerfile line, for instance). */
  created_by?: string;
  /** A free-form note. */
  comment?: string;
  /** True when the step made no layer (so it has no entry in `rootfs.diff_ids`). */
  empty_layer?: boolean;
}

/** An image config (OCI image-spec's, field names as in the JSON), as {@link parseConfig} returns it. */
export interface ImageConfig {
  /** When the image was made, RFC 3339 (exports write the top layer's creation time or SOURCE_DATE_EPOCH). */
  created?: string;
  /** CPU architecture in Go's names (`amd64`, `arm64`). */
  architecture: string;
  /** Operating system in Go's names (`linux`). */
  os: string;
  /** CPU variant (`v8` for arm64, `v7` for arm). */
  variant?: string;
  /** The runtime defaults (Env, Cmd, WorkingDir…), carried through untouched. */
  config?: Record<string, unknown>;
  /** The layers' uncompressed digests (diff IDs), base first: what each applied layer is checked against. */
  rootfs: {
    /** Always `layers`. */
    type: 'layers';
    /** One `sha256:` digest per layer, base first. */
    diff_ids: string[];
  };
  /** How the image was built, step by step. */
  history?: HistoryEntry[];
}
