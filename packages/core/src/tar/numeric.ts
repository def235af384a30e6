// Numeric header fields: octal text (all writers) and GNU base-256 (GNU tar, Go, Python's
// GNU format for values that do not fit the octal field).

const SPACE = 0x20;
const NUL = 0;

/**
 * Parses the field at buf[off, off+len). Returns NaN when it is not a number, so the
 * caller can name the field in its error. Base-256 values may be negative.
 */
export function parseNumeric(buf: Buffer, off: number, len: number): number {
  const end = off + len;
  if (buf[off] & 0x80) return parseBase256(buf, off, end);
  let i = off;
  while (i < end && (buf[i] === SPACE || buf[i] === NUL)) i++;
  // A blank field reads as 0.
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i] - 0x30;
    if (c < 0 || c > 7) break;
    n = n * 8 + c;
  }
  // Like GNU tar: the digits must end at the field end, a space or a NUL.
  if (i < end && buf[i] !== SPACE && buf[i] !== NUL) return NaN;
  return n;
}

function parseBase256(buf: Buffer, off: number, end: number): number {
  // Two's complement, big endian, the top bit of the first byte is the marker.
  const negative = (buf[off] & 0x40) !== 0;
  const inv = negative ? 0xff : 0;
  let n = (buf[off] ^ inv) & 0x7f;
  for (let i = off + 1; i < end; i++) {
    n = n * 256 + (buf[i] ^ inv);
    if (n > Number.MAX_SAFE_INTEGER) return NaN;
  }
  return negative ? -n - 1 : n;
}

/** Exclusive upper bound of an octal field of `len` bytes with its trailing NUL, by len. */
const OCTAL_LIMIT = Array.from({ length: 13 }, (_, len) => 8 ** Math.max(len - 1, 0));

/** True when `value` fits an octal field of `len` (<= 12) bytes with its trailing NUL (Go's fitsInOctal). */
export function fitsOctal(value: number, len: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value < OCTAL_LIMIT[len];
}

/** Writes `value` as zero-padded octal followed by a NUL; the caller checked fitsOctal. */
export function writeOctal(buf: Buffer, off: number, len: number, value: number): void {
  let i = off + len - 1;
  buf[i] = 0;
  let v = value;
  // Digits right to left; bit ops while the value fits 31 bits (always, except sizes/mtimes).
  while (v > 0x7fffffff && i > off) {
    buf[--i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  while (i > off) {
    buf[--i] = 0x30 + (v & 7);
    v >>>= 3;
  }
}
