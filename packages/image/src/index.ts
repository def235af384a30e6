// @graphdriver/image: container images on any graph driver (the image model, the transports
// oci:, oci-archive:, docker-archive: and docker://, and pull/push/import/export).
export { ImageErrorCode, imageError } from './errors.js';
// registries (OCI distribution): the client, credentials, TLS trust, and the docker:// transport
export { RegistryClient, MAX_MANIFEST_BYTES, type RegistryClientOptions } from './registry/client.js';
export type { UploadOptions } from './registry/blob-upload.js';
export { type RegistryReference, DOCKER_HUB, apiHost, canonicalRegistry, formatReference } from './registry/reference.js';
export { login, logout, type LoginOptions } from './registry/login.js';
export { findCredentials, storeCredentials, removeCredentials, authFileCandidates, authFileForWrite, type Credentials, type AuthFileOptions } from './registry/auth-file.js';
export { loadTlsSettings, DEFAULT_CERTS_DIRS, type TlsOptions, type TlsSettings } from './registry/tls.js';
export { selectPlatform } from './registry/platform.js';
export { MediaType } from './registry/media-types.js';
export { DockerSource, DockerDestination, type DockerTransportOptions } from './transports/docker.js';
