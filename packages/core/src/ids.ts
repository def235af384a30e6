import { GraphDriverError, ErrorCode } from './errors.js';

/** Longest id accepted: Docker's name rule, bounded so an id fits any driver's name limits. */
export const MAX_ID_LENGTH = 128;

/**
 * Docker's container-name rule (`[a-zA-Z0-9][a-zA-Z0-9_.-]`), bounded to {@link MAX_ID_LENGTH}.
 * It keeps out everything that breaks a driver somewhere: `/` and NUL (paths), `:` and `,`
 * (overlay mount options), a leading `-` (command-line options), spaces and shell characters,
 * `.`/`..`, and non-ASCII names that some filesystems or datasets refuse.
 */
const ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${MAX_ID_LENGTH - 1}}$`);

/**
 * The one place layer ids are checked: an id becomes a file or dataset name in every driver.
 * Accepts `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` (Docker's name rule, bounded by
 * {@link MAX_ID_LENGTH}); anything else, a non-string included, throws ERR_INVALID_ID.
 */
export function validateId(id: unknown): asserts id is string {
  const bad = (why: string) => new GraphDriverError(ErrorCode.InvalidId, `invalid layer id ${JSON.stringify(id)}: ${why}`);
  if (typeof id !== 'string') throw bad('not a string');
  if (id === '') throw bad('empty');
  if (id.length > MAX_ID_LENGTH) throw bad(`longer than ${MAX_ID_LENGTH} characters`);
  if (!ID_PATTERN.test(id)) throw bad('an id is a letter or digit followed by letters, digits, "_", "." or "-"');
}

/**
 * Normalises the "no parent" spellings (undefined, null, "") to null and validates the rest
 * with {@link validateId} (ERR_INVALID_ID).
 */
export function normalizeParent(parent: string | null | undefined): string | null {
  if (parent === undefined || parent === null || parent === '') return null;
  validateId(parent);
  return parent;
}
