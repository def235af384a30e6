// One 512-byte header block <-> its fields. Knows ustar, GNU, star and V7 layouts;
// knows nothing about PAX records or how entries chain (reader.ts / writer.ts do).
import { BLOCK_SIZE, F, MAGIC_GNU, MAGIC_USTAR, TRAILER_STAR, VERSION_GNU, VERSION_USTAR, ZERO_BLOCK } from './constants.js';
import { invalidArchive } from './errors.js';
import { parseNumeric, writeOctal } from './numeric.js';

export type BlockFormat = 'ustar' | 'gnu' | 'star' | 'v7';

/** The fields of one header block, before PAX / GNU long-name overrides. */
export interface RawHeader {
  typeflag: number;
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  format: BlockFormat;
}

export function isZeroBlock(block: Buffer): boolean {
  // Every real header has a non-zero checksum field: decide most blocks without a native call.
  return block[F.chksum[0]] === 0 && block[0] === 0 && block.equals(ZERO_BLOCK);
}

const [CK_OFF, CK_LEN] = F.chksum;

/** Unsigned (POSIX) sum of the block with the checksum field read as spaces. */
function unsignedChecksum(b: Buffer): number {
  let sum = 0;
  if ((b.byteOffset & 3) === 0) {
    // Two bytes per 16-bit lane of a 32-bit word: 128 words instead of 512 bytes.
    // A lane peaks at 128 * 2 * 255 < 65536, so lanes never carry into each other.
    const words = new Uint32Array(b.buffer, b.byteOffset, BLOCK_SIZE / 4);
    let lanes = 0;
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      lanes += (w & 0x00ff00ff) + ((w >>> 8) & 0x00ff00ff);
    }
    sum = (lanes & 0xffff) + (lanes >>> 16);
  } else {
    for (let i = 0; i < BLOCK_SIZE; i++) sum += b[i];
  }
  for (let i = CK_OFF; i < CK_OFF + CK_LEN; i++) sum -= b[i];
  return sum + CK_LEN * 0x20;
}

/** Old Sun tar summed signed bytes: each byte >= 0x80 counts 256 lower. */
function signedChecksum(b: Buffer): number {
  let high = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) if (i < CK_OFF || i >= CK_OFF + CK_LEN) high += b[i] >>> 7;
  return unsignedChecksum(b) - 256 * high;
}

/** A NUL-terminated (or field-filling) string. */
function str(b: Buffer, [off, len]: readonly [number, number]): string {
  if (b[off] === 0) return '';
  let end = b.indexOf(0, off);
  if (end < 0 || end > off + len) end = off + len;
  return b.toString('utf8', off, end);
}

function bytesAre(b: Buffer, off: number, expected: Buffer): boolean {
  for (let i = 0; i < expected.length; i++) if (b[off + i] !== expected[i]) return false;
  return true;
}

function detectFormat(b: Buffer): BlockFormat {
  if (bytesAre(b, F.magic[0], MAGIC_USTAR)) return bytesAre(b, F.starTrailer[0], TRAILER_STAR) ? 'star' : 'ustar';
  if (bytesAre(b, F.magic[0], MAGIC_GNU) && bytesAre(b, F.version[0], VERSION_GNU)) return 'gnu';
  return 'v7';
}

/** Decodes and validates one non-zero header block found at archive `offset`. */
export function decodeHeader(b: Buffer, offset: number): RawHeader {
  const stored = parseNumeric(b, F.chksum[0], F.chksum[1]);
  const unsigned = unsignedChecksum(b);
  if (Number.isNaN(stored) || (stored !== unsigned && stored !== signedChecksum(b))) {
    const text = b.toString('latin1', CK_OFF, CK_OFF + CK_LEN).replace(/\0/g, '\\0');
    throw invalidArchive(`bad header checksum (stored ${text}, computed ${unsigned.toString(8)})`, {
      offset,
      name: str(b, F.name),
    });
  }
  const format = detectFormat(b);
  let name = str(b, F.name);
  const num = (f: readonly [number, number], label: string, allowNegative = false): number => {
    const n = parseNumeric(b, f[0], f[1]);
    if (Number.isNaN(n)) throw invalidArchive(`non-numeric ${label} field`, { offset, name });
    if (n < 0 && !allowNegative) throw invalidArchive(`negative ${label} field`, { offset, name });
    return n;
  };
  const h: RawHeader = {
    typeflag: b[F.typeflag[0]],
    name,
    linkname: str(b, F.linkname),
    mode: num(F.mode, 'mode'),
    uid: num(F.uid, 'uid'),
    gid: num(F.gid, 'gid'),
    size: num(F.size, 'size'),
    // Pre-1970 times are legitimate (GNU tar writes them in base-256).
    mtime: num(F.mtime, 'mtime', true),
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    format,
  };
  if (format !== 'v7') {
    h.uname = str(b, F.uname);
    h.gname = str(b, F.gname);
    h.devmajor = num(F.devmajor, 'devmajor');
    h.devminor = num(F.devminor, 'devminor');
    // GNU puts atime/ctime where ustar has its prefix.
    if (format !== 'gnu') {
      const prefix = str(b, format === 'star' ? F.starPrefix : F.prefix);
      if (prefix) name = h.name = `${prefix}/${name}`;
    }
  }
  return h;
}

/**
 * Fields as they go into a block. Strings are latin1 byte strings already cut to what the
 * block should hold (the writer passes ASCII only); numbers must fit their octal width.
 */
export interface BlockFields {
  typeflag: number;
  name: string;
  prefix?: string;
  linkname?: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname?: string;
  gname?: string;
  /** Written as octal when set (ustar entries), left NUL-filled otherwise (PAX meta entries, like Go). */
  devmajor?: number;
  devminor?: number;
}

function put(b: Buffer, [off, len]: readonly [number, number], s: string | undefined): void {
  if (s) b.write(s, off, len, 'latin1');
}

/** Zeros with the ustar magic and version in place. */
const TEMPLATE = Buffer.alloc(BLOCK_SIZE);
MAGIC_USTAR.copy(TEMPLATE, F.magic[0]);
VERSION_USTAR.copy(TEMPLATE, F.version[0]);

/** A ustar block ("ustar\0" "00") with its checksum. */
export function encodeBlock(f: BlockFields): Buffer {
  // allocUnsafe slices Node's shared pool: much cheaper per header than a fresh zeroed ArrayBuffer.
  const b = Buffer.allocUnsafe(BLOCK_SIZE);
  b.set(TEMPLATE);
  put(b, F.name, f.name);
  writeOctal(b, F.mode[0], F.mode[1], f.mode);
  writeOctal(b, F.uid[0], F.uid[1], f.uid);
  writeOctal(b, F.gid[0], F.gid[1], f.gid);
  writeOctal(b, F.size[0], F.size[1], f.size);
  writeOctal(b, F.mtime[0], F.mtime[1], f.mtime);
  b[F.typeflag[0]] = f.typeflag;
  put(b, F.linkname, f.linkname);
  put(b, F.uname, f.uname);
  put(b, F.gname, f.gname);
  if (f.devmajor !== undefined) writeOctal(b, F.devmajor[0], F.devmajor[1], f.devmajor);
  if (f.devminor !== undefined) writeOctal(b, F.devminor[0], F.devminor[1], f.devminor);
  put(b, F.prefix, f.prefix);
  // Like Go and GNU tar: six octal digits, NUL, space.
  writeOctal(b, CK_OFF, 7, unsignedChecksum(b));
  b[CK_OFF + 7] = 0x20;
  return b;
}
