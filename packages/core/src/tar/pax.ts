// PAX extended header records: "<len> <key>=<value>\n", where <len> counts BYTES of the
// whole record. Values stay raw bytes because SCHILY.xattr.* values are binary
// (security.capability), so nothing here decodes a record body as one UTF-8 string.
import { invalidArchive, type Where } from './errors.js';

const SPACE = 0x20;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;
/** A length prefix longer than this cannot describe a record that fits any sane header. */
const MAX_LEN_DIGITS = 16;

/** Parses a PAX header body into key -> raw value (a later duplicate key wins). */
export function parsePaxRecords(data: Buffer, w: Where): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    // Some writers pad the body with NULs: accept zeros to the end, nothing else.
    if (data[pos] === 0) {
      if (data.subarray(pos).some((b) => b !== 0)) throw invalidArchive(`PAX header: data after NUL at byte ${pos}`, w);
      break;
    }
    const sp = data.indexOf(SPACE, pos);
    if (sp <= pos || sp - pos > MAX_LEN_DIGITS) throw invalidArchive(`PAX header: malformed record length at byte ${pos}`, w);
    let len = 0;
    for (let i = pos; i < sp; i++) {
      const d = data[i] - 0x30;
      if (d < 0 || d > 9) throw invalidArchive(`PAX header: non-numeric record length at byte ${pos}`, w);
      len = len * 10 + d;
    }
    const end = pos + len;
    // Smallest record is "<len> k=\n".
    if (len < sp - pos + 4 || end > data.length) {
      throw invalidArchive(`PAX header: record length ${len} at byte ${pos} does not fit the ${data.length}-byte header`, w);
    }
    if (data[end - 1] !== NEWLINE) throw invalidArchive(`PAX header: record at byte ${pos} does not end where its length ${len} says`, w);
    const eq = data.indexOf(EQUALS, sp + 1);
    if (eq <= sp + 1 || eq >= end - 1) throw invalidArchive(`PAX header: record at byte ${pos} has no key`, w);
    const key = data.toString('utf8', sp + 1, eq);
    if (key.includes('\0')) throw invalidArchive(`PAX header: key with NUL at byte ${pos}`, w);
    records.set(key, data.subarray(eq + 1, end - 1));
    pos = end;
  }
  return records;
}

const digits = (n: number) => String(n).length;

/** One record; `value` is written byte for byte. */
export function encodePaxRecord(key: string, value: Buffer | string): Buffer {
  const keyLen = Buffer.byteLength(key);
  const valueLen = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  const body = keyLen + valueLen + 3; // ' ', '=', '\n'
  let len = body + digits(body);
  if (digits(len) !== digits(body)) len = body + digits(len);
  const rec = Buffer.allocUnsafe(len);
  let o = rec.write(`${len} ${key}=`, 0, 'utf8');
  o += typeof value === 'string' ? rec.write(value, o, 'utf8') : value.copy(rec, o);
  rec[o] = NEWLINE;
  return rec;
}

const PAX_TIME = /^-?\d+(\.\d*)?$/;

/** PAX time "secs[.frac]" to seconds; NaN when malformed. */
export function parsePaxTime(s: string): number {
  return PAX_TIME.test(s) ? Number(s) : NaN;
}

/**
 * Seconds to PAX time text, at most nanosecond digits, no trailing zeros. Uses the
 * shortest decimal that round-trips the double, so 1700000000.25 stays "1700000000.25".
 */
export function formatPaxTime(seconds: number): string {
  const sign = seconds < 0 ? '-' : '';
  const abs = Math.abs(seconds);
  let s = String(abs);
  if (s.includes('e')) s = abs.toFixed(9);
  const dot = s.indexOf('.');
  if (dot >= 0) {
    s = s.slice(0, dot + 10).replace(/\.?0+$/, '');
  }
  return sign + s;
}
