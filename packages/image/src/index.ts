// @graphdriver/image: container images on any graph driver (the image model, the transports
// oci:, oci-archive:, docker-archive: and docker://, and pull/push/import/export).
export { ImageErrorCode, imageError } from './errors.js';
export type { BlobOrigin, Descriptor, ImageDestination, ImageSource, ManifestBytes, Platform } from './transports/types.js';
// the image model
export { DIGEST_RE, DigestCounter, chainIds, digestHex, isDigest, sha256 } from './model/digest.js';
export { MediaType, isLayerMediaType, layerMediaType, type LayerCompression } from './model/media-types.js';
export {
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  parseConfig,
  parseDescriptor,
  parseIndex,
  parseJsonBlob,
  parseManifest,
} from './model/parse.js';
export { formatPlatform, hostPlatform, parsePlatform, selectPlatform } from './model/platform.js';
export type { HistoryEntry, ImageConfig, ImageIndex, ImageManifest } from './model/types.js';
// references and transports
export {
  DOCKER_HUB,
  familiarDockerReference,
  formatDockerReference,
  formatImageReference,
  parseDockerReference,
  parseImageReference,
  type DockerReference,
  type ImageReference,
  type Transport,
} from './reference.js';
export { openDestination, openSource, type RegistryOptions } from './transports/open.js';
export { OciLayoutDestination, OciLayoutSource } from './transports/oci-layout.js';
export { OciArchiveDestination } from './transports/oci-archive.js';
export { DockerArchiveDestination, DockerArchiveSource } from './transports/docker-archive.js';
// compression
export { createZstdDecompress, decompressAuto, detectCompression, type Compression, type Decompressed } from './compression/decompress.js';
export { createCompressor, type OutputCompression } from './compression/compress.js';
// operations
export { importImage, readImage, type ImportOptions, type ImportResult, type ImportedLayer } from './operations/import.js';
export {
  exportImage,
  layerChain,
  sourceDateEpoch,
  type ExportOptions,
  type ExportResult,
  type ExportedLayer,
} from './operations/export.js';
export { exportTo, importFrom, pull, push } from './operations/transfer.js';
export type { ImageProgressEvent, ProgressListener, TransferOptions } from './operations/progress.js';
// registries (OCI distribution): the client, credentials, TLS trust, and the docker:// transport's ends
export { RegistryClient, type RegistryClientOptions, type RegistryCall } from './registry/client.js';
export type { UploadOptions } from './registry/blob-upload.js';
export { apiHost, canonicalRegistry, sameRegistry } from './registry/reference.js';
export { login, logout, type LoginOptions } from './registry/login.js';
export {
  authFileCandidates,
  authFileForWrite,
  findCredentials,
  parseCredentials,
  removeCredentials,
  storeCredentials,
  type AuthFileOptions,
  type Credentials,
} from './registry/auth-file.js';
export { DEFAULT_CERTS_DIRS, loadTlsSettings, type TlsOptions, type TlsSettings } from './registry/tls.js';
export type { RetryPolicy } from './registry/retry.js';
export { DockerDestination, DockerSource, DockerEndpoint, type DockerTransportOptions } from './registry/docker-transport.js';
export type { BlobFiles } from './transports/blob-files.js';
