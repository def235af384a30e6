// The two ways reading or writing an archive fails on purpose, with the entry and offset
// in the message so a bad layer can be located with `dd`/`tar -tvR`.
import { ErrorCode, GraphDriverError } from '../errors.js';

export interface Where {
  /** Byte offset in the archive of the header block being decoded. */
  offset?: number;
  /** Entry name, when known. */
  name?: string;
}

/**
 * The name as it can be shown on one terminal line: quoted, control characters, DEL/C1 and
 * undecodable bytes (U+FFFD) escaped, cut at 256 characters (a garbage header is all bytes).
 */
const printable = (name: string) => {
  const cut = name.length > 256 ? `${name.slice(0, 256)}...` : name;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\ufffd]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
};

const where = (w: Where) =>
  [w.name !== undefined ? `entry ${printable(w.name)}` : '', w.offset !== undefined ? `offset ${w.offset}` : '']
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
