// @graphdriver/image: container images on any graph driver (the image model, the transports
// oci:, oci-archive:, docker-archive: and docker://, and pull/push/import/export).
export { ImageErrorCode, imageError } from './errors.js';
