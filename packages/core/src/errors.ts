// Typed errors. Every error the library raises on purpose is a GraphDriverError with a
// stable `code`, so callers (and the CLI) can branch on it without parsing messages.
import { errnoCode } from './linux/errno.js';

export const ErrorCode = {
  NotSupported: 'ERR_NOT_SUPPORTED',
  Prerequisites: 'ERR_PREREQUISITES',
  IncompatibleFS: 'ERR_INCOMPATIBLE_FS',
  QuotaNotSupported: 'ERR_QUOTA_NOT_SUPPORTED',
  InvalidId: 'ERR_INVALID_ID',
  LayerNotFound: 'ERR_LAYER_NOT_FOUND',
  LayerExists: 'ERR_LAYER_EXISTS',
  LayerBusy: 'ERR_LAYER_BUSY',
  InvalidOption: 'ERR_INVALID_OPTION',
  NoDriver: 'ERR_NO_DRIVER',
  PriorDrivers: 'ERR_PRIOR_DRIVERS',
  DuplicateDriver: 'ERR_DUPLICATE_DRIVER',
  StoreBusy: 'ERR_STORE_BUSY',
  ForeignHome: 'ERR_FOREIGN_HOME',
  NoSpace: 'ERR_NO_SPACE',
  InvalidArchive: 'ERR_INVALID_ARCHIVE',
  UnsafeEntry: 'ERR_UNSAFE_ENTRY',
  Unsupported: 'ERR_UNSUPPORTED_ENTRY',
  ToolFailed: 'ERR_TOOL_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Marks our errors, also across two copies of core (ESM and CJS builds in one process). */
const BRAND = Symbol.for('@graphdriver/core:GraphDriverError');

export class GraphDriverError extends Error {
  readonly code: string;
  constructor(code: ErrorCode | string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GraphDriverError';
    this.code = code;
  }
}
Object.defineProperty(GraphDriverError.prototype, BRAND, { value: true });

/**
 * True for errors raised by this library. Node's own errors also carry "ERR_..." codes
 * (ERR_OUT_OF_RANGE, ERR_INVALID_ARG_TYPE): those are not ours, and are not typed errors.
 */
export function isGraphDriverError(err: unknown, code?: ErrorCode): err is GraphDriverError {
  return err instanceof Error && (err as unknown as Record<symbol, unknown>)[BRAND] === true &&
    typeof (err as GraphDriverError).code === 'string' && (code === undefined || (err as GraphDriverError).code === code);
}

/** True for errors that mean "this driver cannot run here" (Docker's NotSupportedError family). */
export function isDriverNotSupported(err: unknown): boolean {
  return (
    isGraphDriverError(err, ErrorCode.NotSupported) ||
    isGraphDriverError(err, ErrorCode.Prerequisites) ||
    isGraphDriverError(err, ErrorCode.IncompatibleFS)
  );
}

export const errNotSupported = (name: string) =>
  new GraphDriverError(ErrorCode.NotSupported, `driver not supported: ${name}`);
export const errPrerequisites = (driver: string, why: string, cause?: unknown) =>
  new GraphDriverError(
    ErrorCode.Prerequisites,
    `prerequisites for driver ${driver} not satisfied (wrong filesystem?): ${why}`,
    { cause },
  );
export const errIncompatibleFS = (driver: string, fs: string) =>
  new GraphDriverError(ErrorCode.IncompatibleFS, `backing file system ${fs} is unsupported for the ${driver} graph driver`);
export const errQuotaNotSupported = (why: string) =>
  new GraphDriverError(ErrorCode.QuotaNotSupported, `storage quota not supported: ${why}`);
export const errLayerNotFound = (id: string) => new GraphDriverError(ErrorCode.LayerNotFound, `layer ${id} does not exist`);
export const errLayerExists = (id: string) => new GraphDriverError(ErrorCode.LayerExists, `layer ${id} already exists`);
export const errLayerBusy = (id: string, why: string) => new GraphDriverError(ErrorCode.LayerBusy, `layer ${id} is busy: ${why}`);
export const errInvalidOption = (why: string) => new GraphDriverError(ErrorCode.InvalidOption, why);

export { errnoCode };

export function isNoSpace(err: unknown): boolean {
  const c = errnoCode(err);
  return c === 'ENOSPC' || c === 'EDQUOT';
}

/** Wraps an ENOSPC/EDQUOT from the backing store into a typed ERR_NO_SPACE; other errors pass through. */
export function asStorageError(err: unknown, what: string): unknown {
  if (isNoSpace(err) && !isGraphDriverError(err)) {
    return new GraphDriverError(ErrorCode.NoSpace, `${what}: no space left (${errnoCode(err)})`, { cause: err });
  }
  return err;
}
