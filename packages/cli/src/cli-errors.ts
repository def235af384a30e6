// Error codes of the CLI's own failures (core's GraphDriverError codes pass through as they
// are) and the one-line rendering every failure gets.
import { ErrorCode, GraphDriverError, errnoCode, isGraphDriverError, isNoSpace } from '@graphdriver/core';
import { ImageErrorCode } from '@graphdriver/image';

export const CliErrorCode = {
  Usage: 'ERR_USAGE',
  Terminal: 'ERR_TERMINAL',
  StdoutClosed: 'ERR_STDOUT_CLOSED',
  Internal: 'ERR_INTERNAL',
} as const;

/** Exit status: 2 for a command line that could not be understood (an image reference too), 1 for every other failure. */
export function exitStatus(err: unknown): number {
  const code = errorCode(err);
  return code === CliErrorCode.Usage || code === ImageErrorCode.InvalidReference ? 2 : 1;
}

/**
 * A stable code: the library's ERR_*, ERR_NO_SPACE for a full disk wherever it struck (a
 * layer, stdout, an output file), a Node errno name (ENOENT, EACCES...) for the errno
 * failures no command expected, or ERR_INTERNAL.
 */
export function errorCode(err: unknown): string {
  if (isGraphDriverError(err)) return err.code;
  if (isZlibError(err)) return ErrorCode.InvalidArchive;
  if (isNoSpace(err)) return ErrorCode.NoSpace;
  // the only pipe the CLI writes is stdout: its reader went away (`| head`)
  if (errnoCode(err) === 'EPIPE') return CliErrorCode.StdoutClosed;
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
  const msg = isZlibError(err)
    ? `invalid gzip data: ${raw}`
    : errnoCode(err) === 'EPIPE'
      ? `the reader of stdout closed it before the end of the output (${raw})`
      : raw;
  // one line, whatever a tool printed
  return msg.replace(/\s*\n\s*/g, '; ').trim();
}

/**
 * A file or directory named on the command line (apply FILE, diff -o FILE, --root DIR, an
 * oci:DIR to export to) that cannot be used: the argument is at fault, so ERR_INVALID_OPTION
 * (ERR_NO_SPACE for a full disk), with the errno kept in the message. Typed errors and
 * errors without an errno pass through.
 */
export function pathError(err: unknown, what: string): unknown {
  const errno = errnoCode(err);
  if (isGraphDriverError(err) || !errno || !/^E[A-Z0-9]+$/.test(errno)) return err;
  // Node's "ENOENT: no such file or directory, open '/x'" without the syscall and path: `what` names the path
  const why = (err as Error).message.replace(/, [a-z_]+ '.*$/s, '');
  return new GraphDriverError(isNoSpace(err) ? ErrorCode.NoSpace : ErrorCode.InvalidOption, `${what}: ${why}`, { cause: err });
}
