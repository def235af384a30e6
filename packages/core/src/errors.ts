// Typed errors. Every error the library raises on purpose is a GraphDriverError with a
// stable `code`, so callers (and the CLI) can branch on it without parsing messages.
import { errnoCode } from './linux/errno.js';

/**
 * The stable `code` of every {@link GraphDriverError}. Branch on these (or use
 * {@link isGraphDriverError} with one), never on messages, which may change.
 */
export const ErrorCode = {
  /** The named driver is not registered or cannot run on this system at all. */
  NotSupported: 'ERR_NOT_SUPPORTED',
  /** Something the driver needs is missing: a kernel feature, a program, root, the right filesystem under its home. */
  Prerequisites: 'ERR_PREREQUISITES',
  /** The filesystem under the driver's home cannot back this driver (overlay on overlay, say). */
  IncompatibleFS: 'ERR_INCOMPATIBLE_FS',
  /** A `size` storage option was asked of a driver or filesystem that cannot enforce one. */
  QuotaNotSupported: 'ERR_QUOTA_NOT_SUPPORTED',
  /** A layer id outside `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` (see {@link validateId}). */
  InvalidId: 'ERR_INVALID_ID',
  /** No complete layer with this id (a layer being created or removed counts as absent). */
  LayerNotFound: 'ERR_LAYER_NOT_FOUND',
  /** `create` was given an id the store already holds. */
  LayerExists: 'ERR_LAYER_EXISTS',
  /** The layer is mounted, leased or has children, so it cannot be removed or changed now. */
  LayerBusy: 'ERR_LAYER_BUSY',
  /** A driver option (`key=value`) or argument the driver does not accept or cannot parse. */
  InvalidOption: 'ERR_INVALID_OPTION',
  /** {@link newDriver} found no registered driver that can run here. */
  NoDriver: 'ERR_NO_DRIVER',
  /** {@link newDriver} found the data of several drivers under the root and will not guess between them. */
  PriorDrivers: 'ERR_PRIOR_DRIVERS',
  /** {@link register} was called twice with one name. */
  DuplicateDriver: 'ERR_DUPLICATE_DRIVER',
  /** Another process holds the store's lock (one process per driver home). */
  StoreBusy: 'ERR_STORE_BUSY',
  /** The driver home holds data this library did not write (a Docker home, say); it is left untouched. */
  ForeignHome: 'ERR_FOREIGN_HOME',
  /** The backing store ran out of space or quota (ENOSPC, EDQUOT); see {@link asStorageError}. */
  NoSpace: 'ERR_NO_SPACE',
  /** A layer tar that is not a well-formed archive (bad checksum, truncated, oversized header). */
  InvalidArchive: 'ERR_INVALID_ARCHIVE',
  /** A tar entry whose path or link would land outside the layer; nothing of it is written. */
  UnsafeEntry: 'ERR_UNSAFE_ENTRY',
  /** A well-formed tar entry this system cannot store (a type, name length or device not allowed here). */
  Unsupported: 'ERR_UNSUPPORTED_ENTRY',
  /** An external program run through {@link tool} failed; the error is a {@link ToolError}. */
  ToolFailed: 'ERR_TOOL_FAILED',
  /** The operation's `AbortSignal` fired; the error is an {@link AbortError}. */
  Aborted: 'ERR_ABORTED',
  /** A store check found records that do not match the backend (the CLI's `check` exits with it). */
  StoreDamaged: 'ERR_STORE_DAMAGED',
  /** A backing service stopped answering (a hung FUSE daemon) and the operation was cut off instead of waiting forever. */
  Hung: 'ERR_HUNG',
} as const;
/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Marks our errors, also across two copies of core (ESM and CJS builds in one process). */
const BRAND = Symbol.for('@graphdriver/core:GraphDriverError');

/**
 * Every error this library raises on purpose. Test for it with {@link isGraphDriverError}
 * rather than `instanceof`: the ESM and CJS builds of core are two classes, the brand is one.
 */
export class GraphDriverError extends Error {
  /** An {@link ErrorCode} value (drivers and the CLI may add their own `ERR_` codes). */
  readonly code: string;
  /**
   * @param code - the `ERR_` code callers branch on.
   * @param message - one line for a person; says what failed and on what.
   * @param options - `cause`: the underlying error, kept for diagnosis.
   */
  constructor(code: ErrorCode | string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GraphDriverError';
    this.code = code;
  }
}
Object.defineProperty(GraphDriverError.prototype, BRAND, { value: true });

/**
 * An operation given an `AbortSignal` that was aborted: `name` is 'AbortError' (as the DOM's
 * and Node's own), `code` is ERR_ABORTED, `cause` is the signal's reason.
 */
export class AbortError extends GraphDriverError {
  /**
   * @param message - what was aborted.
   * @param options - `cause`: the signal's `reason`.
   */
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super(ErrorCode.Aborted, message, options);
    this.name = 'AbortError';
  }
}

/** Ours, Node's (`ABORT_ERR`) or the DOM's: anything that says an AbortSignal stopped it. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || isGraphDriverError(err, ErrorCode.Aborted));
}

/**
 * True for errors raised by this library. Node's own errors also carry "ERR_..." codes
 * (ERR_OUT_OF_RANGE, ERR_INVALID_ARG_TYPE): those are not ours, and are not typed errors.
 */
export function isGraphDriverError(err: unknown, code?: ErrorCode): err is GraphDriverError {
  return (
    err instanceof Error &&
    (err as unknown as Record<symbol, unknown>)[BRAND] === true &&
    typeof (err as GraphDriverError).code === 'string' &&
    (code === undefined || (err as GraphDriverError).code === code)
  );
}

/** True for errors that mean "this driver cannot run here" (Docker's NotSupportedError family). */
export function isDriverNotSupported(err: unknown): boolean {
  return (
    isGraphDriverError(err, ErrorCode.NotSupported) ||
    isGraphDriverError(err, ErrorCode.Prerequisites) ||
    isGraphDriverError(err, ErrorCode.IncompatibleFS)
  );
}

/** ERR_NOT_SUPPORTED for driver `name`. */
export const errNotSupported = (name: string) => new GraphDriverError(ErrorCode.NotSupported, `driver not supported: ${name}`);
/** ERR_PREREQUISITES for `driver`: `why` names what is missing, `cause` the failure that showed it. */
export const errPrerequisites = (driver: string, why: string, cause?: unknown) =>
  new GraphDriverError(ErrorCode.Prerequisites, `prerequisites for driver ${driver} not satisfied (wrong filesystem?): ${why}`, { cause });
/** ERR_INCOMPATIBLE_FS: `driver` cannot run on filesystem `fs` (its {@link FsMagic} name). */
export const errIncompatibleFS = (driver: string, fs: string) =>
  new GraphDriverError(ErrorCode.IncompatibleFS, `backing file system ${fs} is unsupported for the ${driver} graph driver`);
/** ERR_QUOTA_NOT_SUPPORTED: a size limit was asked for and cannot be enforced, for the reason `why`. */
export const errQuotaNotSupported = (why: string) =>
  new GraphDriverError(ErrorCode.QuotaNotSupported, `storage quota not supported: ${why}`);
/** ERR_LAYER_NOT_FOUND for layer `id`. */
export const errLayerNotFound = (id: string) => new GraphDriverError(ErrorCode.LayerNotFound, `layer ${id} does not exist`);
/** ERR_LAYER_EXISTS for layer `id`. */
export const errLayerExists = (id: string) => new GraphDriverError(ErrorCode.LayerExists, `layer ${id} already exists`);
/** ERR_LAYER_BUSY for layer `id`; `why` says what holds it (mounted, has children, leased). */
export const errLayerBusy = (id: string, why: string) => new GraphDriverError(ErrorCode.LayerBusy, `layer ${id} is busy: ${why}`);
/** ERR_INVALID_OPTION; `why` is the whole message, naming the option and what is wrong with it. */
export const errInvalidOption = (why: string) => new GraphDriverError(ErrorCode.InvalidOption, why);

export { errnoCode };

/** True when `err` is the system's ENOSPC or EDQUOT (out of space, out of quota). */
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
