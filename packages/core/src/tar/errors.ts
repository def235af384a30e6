// The two ways reading or writing an archive fails on purpose, with the entry and offset
// in the message so a bad layer can be located with `dd`/`tar -tvR`.
import { ErrorCode, GraphDriverError } from '../errors.js';

export interface Where {
  /** Byte offset in the archive of the header block being decoded. */
  offset?: number;
  /** Entry name, when known. */
  name?: string;
}

const where = (w: Where) =>
  [w.name !== undefined ? `entry ${JSON.stringify(w.name)}` : '', w.offset !== undefined ? `offset ${w.offset}` : '']
    .filter(Boolean)
    .join(' at ');

export function invalidArchive(why: string, w: Where = {}): GraphDriverError {
  const at = where(w);
  return new GraphDriverError(ErrorCode.InvalidArchive, `invalid tar archive${at ? ` (${at})` : ''}: ${why}`);
}

export function unsupportedEntry(why: string, w: Where = {}): GraphDriverError {
  const at = where(w);
  return new GraphDriverError(ErrorCode.Unsupported, `unsupported tar entry${at ? ` (${at})` : ''}: ${why}`);
}
