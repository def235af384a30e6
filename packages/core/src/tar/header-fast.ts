// A fast path for the common tar header: one plain ustar block (ASCII names that fit, no
// xattrs, numbers that fit their octal fields), written straight into an output buffer
// without intermediate allocations. It must produce exactly the bytes of
// tar/writer.ts's encodeHeader for the headers it accepts (export.test.ts checks this);
// anything else is left to encodeHeader.
//
// It runs once per archived entry, often in a process that has just started, before V8 has
// optimized it: so it does little JavaScript work per entry. The fields that repeat from
// entry to entry (owners and their names, magic, device numbers, zero digits) come from a
// 512-byte template copied in one native call (UstarCache keeps one per owner pair); only
// the name, mode, size, time, type and link target are written, and the checksum is the
// template's sum plus what those add.
import type { EntryType, TarHeader } from './types.js';
import { modeField } from './writer.js';

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  directory: 0x35,
  fifo: 0x36,
};

const O8_7 = 8 ** 7; // octal field of 8 bytes: 7 digits
const O8_11 = 8 ** 11; // octal field of 12 bytes: 11 digits
const U32 = 2 ** 32;

/** One owner pair's template: the block with everything but the per-entry fields. */
interface Template {
  block: Buffer;
  /** Sum of the block's bytes with the checksum field read as spaces. */
  sum: number;
  uname: string;
  gname: string;
}

/** Templates of one archive, by owner pair. Reuse one per archive (or per process). */
export class UstarCache {
  /** (uid * 8^7 + gid) -> template; replaced when the names differ. */
  readonly owners = new Map<number, Template>();
}

/** What a ustar string field may hold here: \x01-\x7f only. (A regexp runs as native code.) */
// eslint-disable-next-line no-control-regex
const PLAIN_ASCII = /^[\x01-\x7f]*$/;

/**
 * Sum of the char codes of `s` when every UTF-16 unit is in \x01-\x7f (what a ustar string
 * field may hold), else -1. The sum goes into the header checksum.
 */
function asciiSum(s: string): number {
  if (!PLAIN_ASCII.test(s)) return -1;
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s.charCodeAt(i);
  return sum;
}

/**
 * Stores the ASCII string `s` (checked already) byte by byte at buf[off..] and returns the
 * sum of its bytes: one pass, and none of Buffer#write's argument handling per field.
 */
function putAscii(buf: Buffer, off: number, s: string, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    buf[off++] = c;
    sum += c;
  }
  return sum;
}

/**
 * Writes `v` (a whole number below 8^digits) as octal over the "0" digits the template has
 * at buf[off..off+digits), right-aligned; returns what that adds to the byte sum.
 */
function putDigits(buf: Buffer, off: number, digits: number, v: number): number {
  let added = 0;
  let i = off + digits - 1;
  if (v < U32) {
    while (v !== 0) {
      const d = v & 7;
      buf[i--] = 0x30 + d;
      added += d;
      v >>>= 3;
    }
  } else {
    while (v !== 0) {
      const d = v % 8;
      buf[i--] = 0x30 + d;
      added += d;
      v = Math.floor(v / 8);
    }
  }
  return added;
}

/** Zero-padded octal in `digits` digits followed by a NUL; returns the sum of the bytes written. */
function putOctal(buf: Buffer, off: number, digits: number, v: number): number {
  buf.fill(0x30, off, off + digits);
  buf[off + digits] = 0;
  return 0x30 * digits + putDigits(buf, off, digits, v);
}

function makeTemplate(uid: number, gid: number, uname: string, gname: string): Template | null {
  if (uname.length > 32 || gname.length > 32) return null;
  const unameSum = asciiSum(uname);
  const gnameSum = asciiSum(gname);
  if (unameSum < 0 || gnameSum < 0) return null;
  const b = Buffer.alloc(512);
  // Checksum field read as spaces, "ustar\0" "00", the names.
  let sum = 8 * 0x20 + 0x75 + 0x73 + 0x74 + 0x61 + 0x72 + 0x30 + 0x30 + unameSum + gnameSum;
  sum += putOctal(b, 100, 7, 0); // mode
  sum += putOctal(b, 108, 7, uid);
  sum += putOctal(b, 116, 7, gid);
  sum += putOctal(b, 124, 11, 0); // size
  sum += putOctal(b, 136, 11, 0); // mtime
  b.write('ustar\0' + '00', 257, 'latin1');
  if (uname.length > 0) b.write(uname, 265, 32, 'latin1');
  if (gname.length > 0) b.write(gname, 297, 32, 'latin1');
  sum += putOctal(b, 329, 7, 0); // devmajor
  sum += putOctal(b, 337, 7, 0); // devminor
  return { block: b, sum, uname, gname };
}

/**
 * Writes the single 512-byte ustar block for `h` at buf[off..off+512) and returns true, or
 * returns false (writing nothing) when `h` needs a PAX header or is not valid; the caller
 * then uses encodeHeader. `fileTypeBits` is encodeHeader's option of that name (keep
 * S_IFMT bits in the mode field). `cache` keeps the owner templates from call to call. The
 * block is written whole: the buffer need not be zeroed.
 */
export function encodeUstarInto(h: TarHeader, buf: Buffer, off: number, fileTypeBits = false, cache?: UstarCache): boolean {
  const type = h.type;
  const typeflag = TYPEFLAG[type];
  if (typeflag === undefined) return false;
  let name = h.name;
  const isLink = type === 'symlink' || type === 'hardlink';
  if (type === 'directory') {
    if (name.length === 0) return false;
    if (name.charCodeAt(name.length - 1) !== 0x2f) name += '/';
  } else if (name.length === 0 || (!isLink && name.charCodeAt(name.length - 1) === 0x2f)) {
    return false;
  }
  if (h.xattrs !== undefined && h.xattrs.size > 0) return false;
  const uid = h.uid;
  const gid = h.gid;
  const mtime = h.mtime;
  const size = type === 'file' ? h.size : 0;
  // Whole, non-negative and within their fields (NaN and fractions fail these too).
  if (!(uid >= 0 && uid < O8_7 && uid % 1 === 0 && gid >= 0 && gid < O8_7 && gid % 1 === 0)) return false;
  if (!(size >= 0 && size < O8_11 && size % 1 === 0 && mtime >= 0 && mtime < O8_11 && mtime % 1 === 0)) return false;
  if (!Number.isSafeInteger(h.mode) || h.mode < 0) return false;
  let devmajor = 0;
  let devminor = 0;
  if (type === 'char' || type === 'block') {
    devmajor = h.devmajor ?? 0;
    devminor = h.devminor ?? 0;
    if (!(devmajor >= 0 && devmajor < O8_7 && devmajor % 1 === 0 && devminor >= 0 && devminor < O8_7 && devminor % 1 === 0)) return false;
  } else if ((h.devmajor !== undefined && h.devmajor !== 0) || (h.devminor !== undefined && h.devminor !== 0)) {
    // encodeHeader writes whatever it is given: leave these rare headers to it.
    return false;
  }
  const link = isLink ? (h.linkname ?? '') : '';
  if (link.length > 100) return false;
  const uname = h.uname ?? '';
  const gname = h.gname ?? '';

  if (!PLAIN_ASCII.test(name) || (link.length > 0 && !PLAIN_ASCII.test(link))) return false;

  // Go's splitUSTARPath for names over 100 bytes.
  let prefixEnd = -1;
  if (name.length > 100) {
    let length = name.length;
    if (length > 156) length = 156;
    else if (name.charCodeAt(length - 1) === 0x2f) length--;
    const i = name.lastIndexOf('/', length - 1);
    const nlen = name.length - i - 1;
    if (i <= 0 || nlen > 100 || nlen === 0 || i > 155) return false;
    prefixEnd = i;
  }

  const key = uid * O8_7 + gid;
  let t = cache?.owners.get(key);
  if (t === undefined || t.uname !== uname || t.gname !== gname) {
    const made = makeTemplate(uid, gid, uname, gname);
    if (made === null) return false;
    t = made;
    cache?.owners.set(key, t);
  }

  // Everything checked: from here on the block is written.
  buf.set(t.block, off);
  let sum = t.sum + typeflag;
  if (prefixEnd < 0) {
    sum += putAscii(buf, off, name, 0, name.length);
  } else {
    // The "/" between prefix and name is not stored.
    sum += putAscii(buf, off, name, prefixEnd + 1, name.length) + putAscii(buf, off + 345, name, 0, prefixEnd);
  }
  sum += putDigits(buf, off + 100, 7, modeField(h.mode, fileTypeBits));
  if (size !== 0) sum += putDigits(buf, off + 124, 11, size);
  sum += putDigits(buf, off + 136, 11, mtime);
  buf[off + 156] = typeflag;
  if (link.length > 0) sum += putAscii(buf, off + 157, link, 0, link.length);
  if (devmajor !== 0) sum += putDigits(buf, off + 329, 7, devmajor);
  if (devminor !== 0) sum += putDigits(buf, off + 337, 7, devminor);
  // Six octal digits, NUL, space (the sum of 512 bytes stays below 8^6).
  for (let i = off + 153; i >= off + 148; i--) {
    buf[i] = 0x30 + (sum & 7);
    sum >>>= 3;
  }
  buf[off + 154] = 0;
  buf[off + 155] = 0x20;
  return true;
}
