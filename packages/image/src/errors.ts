// Typed errors of image transfer. They are GraphDriverErrors (core's brand), so callers and the
// CLI branch on `code` the same way as for storage errors.
import { ErrorCode, GraphDriverError, errnoCode, isGraphDriverError, isNoSpace } from '@graphdriver/core';

/**
 * The ERR_ codes of image transfer, beyond core's ErrorCode. Errors carrying them are
 * GraphDriverErrors: branch on `err.code`.
 */
export const ImageErrorCode = {
  /** 401/403 from a registry, or credentials it refused. */
  RegistryAuth: 'ERR_REGISTRY_AUTH',
  /** The registry's certificate is not trusted (or TLS failed otherwise). */
  RegistryTls: 'ERR_REGISTRY_TLS',
  /** Unknown tag, digest, repository, or a platform the index lacks. */
  ImageNotFound: 'ERR_IMAGE_NOT_FOUND',
  /** Bytes that do not match the digest (or diff ID) that names them. */
  DigestMismatch: 'ERR_DIGEST_MISMATCH',
  /** Schema 1 manifests, unknown media types, unsupported compression. */
  UnsupportedImage: 'ERR_UNSUPPORTED_IMAGE',
  /** Anything else once retries are spent: unreachable, 5xx, protocol errors. */
  Registry: 'ERR_REGISTRY',
  /**
   * A malformed image: a layout, archive, manifest, index or config that is not what its
   * format says (bad JSON, wrong shape, too big, a missing blob, a path outside the archive).
   */
  InvalidImage: 'ERR_IMAGE_INVALID',
  /** A transport reference that cannot be parsed (`oci:`, `docker://`...). */
  InvalidReference: 'ERR_INVALID_REFERENCE',
} as const;
/** One of the {@link ImageErrorCode} values. */
export type ImageErrorCode = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];

/** A GraphDriverError with an image `code`; `cause` (when given) is kept as the error's cause. */
export function imageError(code: ImageErrorCode, message: string, cause?: unknown): GraphDriverError {
  return new GraphDriverError(code, message, cause === undefined ? undefined : { cause });
}

export const invalidImage = (where: string, why: string, cause?: unknown) =>
  imageError(ImageErrorCode.InvalidImage, `${where}: ${why}`, cause);

export const digestMismatch = (what: string, expected: string, actual: string) =>
  imageError(ImageErrorCode.DigestMismatch, `${what}: digest mismatch: expected ${expected}, got ${actual}`);

/**
 * A path the caller named (an oci: directory, an archive to write) that cannot be used: the
 * argument is at fault, so ERR_INVALID_OPTION (ERR_NO_SPACE for a full disk), the errno kept
 * in the message. Typed errors pass through.
 */
export function pathError(err: unknown, what: string): unknown {
  const errno = errnoCode(err);
  if (isGraphDriverError(err) || !errno) return err;
  const why = (err as Error).message.replace(/, [a-z_]+ '.*$/s, '');
  return new GraphDriverError(isNoSpace(err) ? ErrorCode.NoSpace : ErrorCode.InvalidOption, `${what}: ${why}`, { cause: err });
}
