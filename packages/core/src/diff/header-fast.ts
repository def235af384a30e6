// A fast path for the common tar header: one plain ustar block (ASCII names that fit, no
// xattrs, numbers that fit their octal fields), written straight into an output buffer
// without intermediate allocations. It must produce exactly the bytes of
// tar/writer.ts's encodeHeader for the headers it accepts (header-fast.test.ts checks
// this); anything else is left to encodeHeader.
import type { EntryType, TarHeader } from '../tar/types.js';

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

/**
 * Sum of the char codes of `s` when every UTF-16 unit is in \x01-\x7f (what a ustar string
 * field may hold), else -1. The sum goes into the header checksum.
 */
function asciiSum(s: string): number {
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return -1;
    sum += c;
  }
  return sum;
}

/** Zero-padded octal in `digits` digits followed by a NUL; returns the sum of the bytes written. */
function putOctal(buf: Buffer, off: number, digits: number, v: number): number {
  let sum = 0;
  for (let i = digits - 1; i >= 0; i--) {
    const d = 0x30 + (v % 8);
    buf[off + i] = d;
    sum += d;
    v = Math.floor(v / 8);
  }
  buf[off + digits] = 0;
  return sum;
}

/** "ustar\0" "00" */
const MAGIC_SUM = 0x75 + 0x73 + 0x74 + 0x61 + 0x72 + 0x30 + 0x30;

/**
 * Writes the single 512-byte ustar block for `h` at buf[off..off+512) and returns true, or
 * returns false (writing nothing) when `h` needs a PAX header or is not valid; the caller
 * then uses encodeHeader. With `zeroed`, the caller promises the 512 bytes are already 0.
 */
export function encodeUstarInto(h: TarHeader, buf: Buffer, off: number, zeroed = false): boolean {
  const typeflag = TYPEFLAG[h.type];
  if (typeflag === undefined) return false;
  let name = h.name;
  if (h.type === 'directory') {
    if (name.length === 0) return false;
    if (name.charCodeAt(name.length - 1) !== 0x2f) name += '/';
  } else if (name.length === 0 || (name.charCodeAt(name.length - 1) === 0x2f && h.type !== 'symlink' && h.type !== 'hardlink')) {
    return false;
  }
  const link = h.type === 'symlink' || h.type === 'hardlink' ? (h.linkname ?? '') : '';
  const uname = h.uname ?? '';
  const gname = h.gname ?? '';
  const size = h.type === 'file' ? h.size : 0;
  const devmajor = h.devmajor ?? 0;
  const devminor = h.devminor ?? 0;
  if (h.xattrs !== undefined && h.xattrs.size > 0) return false;
  if (link.length > 100 || uname.length > 32 || gname.length > 32) return false;
  const nameSum = asciiSum(name);
  const linkSum = asciiSum(link);
  const unameSum = asciiSum(uname);
  const gnameSum = asciiSum(gname);
  if (nameSum < 0 || linkSum < 0 || unameSum < 0 || gnameSum < 0) return false;
  const ok = (v: number, max: number) => Number.isSafeInteger(v) && v >= 0 && v < max;
  if (!ok(h.uid, O8_7) || !ok(h.gid, O8_7) || !ok(size, O8_11) || !ok(h.mtime, O8_11)) return false;
  if (!ok(h.mode, Number.MAX_SAFE_INTEGER) || !ok(devmajor, O8_7) || !ok(devminor, O8_7)) return false;

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

  if (!zeroed) buf.fill(0, off, off + 512);
  // The strings are ASCII: latin1 writes them byte for byte. The checksum is the sum of
  // every byte with its own field read as spaces, added up as the fields are written.
  let sum = 8 * 0x20 + nameSum + linkSum + unameSum + gnameSum + MAGIC_SUM;
  if (prefixEnd < 0) {
    buf.write(name, off, 100, 'latin1');
  } else {
    buf.write(name.slice(prefixEnd + 1), off, 100, 'latin1');
    buf.write(name.slice(0, prefixEnd), off + 345, 155, 'latin1');
    sum -= 0x2f; // the "/" between prefix and name is not stored
  }
  sum += putOctal(buf, off + 100, 7, h.mode & 0o7777);
  sum += putOctal(buf, off + 108, 7, h.uid);
  sum += putOctal(buf, off + 116, 7, h.gid);
  sum += putOctal(buf, off + 124, 11, size);
  sum += putOctal(buf, off + 136, 11, h.mtime);
  buf[off + 156] = typeflag;
  sum += typeflag;
  if (link.length > 0) buf.write(link, off + 157, 100, 'latin1');
  // magic "ustar\0", version "00"
  buf[off + 257] = 0x75;
  buf[off + 258] = 0x73;
  buf[off + 259] = 0x74;
  buf[off + 260] = 0x61;
  buf[off + 261] = 0x72;
  buf[off + 263] = 0x30;
  buf[off + 264] = 0x30;
  if (uname.length > 0) buf.write(uname, off + 265, 32, 'latin1');
  if (gname.length > 0) buf.write(gname, off + 297, 32, 'latin1');
  sum += putOctal(buf, off + 329, 7, devmajor);
  sum += putOctal(buf, off + 337, 7, devminor);
  putOctal(buf, off + 148, 6, sum);
  buf[off + 155] = 0x20;
  return true;
}
