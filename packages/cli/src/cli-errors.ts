// Error codes of the CLI's own failures (core's GraphDriverError codes pass through as they
// are) and the one-line rendering every failure gets.
import { ErrorCode, isGraphDriverError } from '@graphdriver/core';

export const CliErrorCode = {
  Usage: 'ERR_USAGE',
  OciInvalid: 'ERR_OCI_INVALID',
  ImageNotFound: 'ERR_IMAGE_NOT_FOUND',
  DigestMismatch: 'ERR_DIGEST_MISMATCH',
  Terminal: 'ERR_TERMINAL',
  Internal: 'ERR_INTERNAL',
} as const;

/** Exit status: 2 for a command line that could not be understood, 1 for every other failure. */
export function exitStatus(err: unknown): number {
  return errorCode(err) === CliErrorCode.Usage ? 2 : 1;
}

/** A stable code: the library's ERR_*, a Node errno name (ENOENT, EACCES...), or ERR_INTERNAL. */
export function errorCode(err: unknown): string {
  if (isGraphDriverError(err)) return err.code;
  if (isZlibError(err)) return ErrorCode.InvalidArchive;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
  return CliErrorCode.Internal;
}

/** zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR...) mean the gzip data is corrupt. */
function isZlibError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^Z_[A-Z_]+$/.test(code);
}

export function errorMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const msg = isZlibError(err) ? `invalid gzip data: ${raw}` : raw;
  // one line, whatever a tool printed
  return msg.replace(/\s*\n\s*/g, '; ').trim();
}
