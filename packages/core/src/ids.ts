import { GraphDriverError, ErrorCode } from './errors.js';

const MAX_ID_BYTES = 255;

/** The one place layer ids are checked: an id becomes a file or dataset name in every driver. */
export function validateId(id: unknown): asserts id is string {
  const bad = (why: string) =>
    new GraphDriverError(ErrorCode.InvalidId, `invalid layer id ${JSON.stringify(id)}: ${why}`);
  if (typeof id !== 'string') throw bad('not a string');
  if (id === '') throw bad('empty');
  if (id === '.' || id === '..') throw bad('reserved name');
  if (id.includes('/')) throw bad('contains "/"');
  if (id.includes('\0')) throw bad('contains NUL');
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw bad(`longer than ${MAX_ID_BYTES} bytes`);
}

/** Normalises the "no parent" spellings (undefined, null, "") to null and validates the rest. */
export function normalizeParent(parent: string | null | undefined): string | null {
  if (parent === undefined || parent === null || parent === '') return null;
  validateId(parent);
  return parent;
}
