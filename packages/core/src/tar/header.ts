// One 512-byte header block <-> its fields. Knows ustar, GNU, star and V7 layouts;
// knows nothing about PAX records or how entries chain (reader.ts / writer.ts do).
import {
  BLOCK_SIZE,
  F,
  MAGIC_GNU,
  MAGIC_USTAR,
  TRAILER_STAR,
  VERSION_GNU,
  VERSION_USTAR,
  ZERO_BLOCK,
} from './constants.js';
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
  return block.equals(ZERO_BLOCK);
}

const [CK_OFF, CK_LEN] = F.chksum;

/** Unsigned (POSIX) and signed (old Sun tar) sums with the checksum field read as spaces. */
function checksums(b: Buffer): [number, number] {
  let sum = 0;
  let high = 0; // bytes >= 0x80, which the signed sum counts 256 lower
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const c = b[i];
    sum += c;
    high += c >>> 7;
  }
  for (let i = CK_OFF; i < CK_OFF + CK_LEN; i++) {
    const c = b[i];
    sum -= c;
    high -= c >>> 7;
  }
  sum += CK_LEN * 0x20;
  return [sum, sum - 256 * high];
}

function field(b: Buffer, [off, len]: readonly [number, number]): Buffer {
  return b.subarray(off, off + len);
}

/** A NUL-terminated (or field-filling) string. */
function str(b: Buffer, [off, len]: readonly [number, number]): string {
  const f = b.subarray(off, off + len);
  const nul = f.indexOf(0);
  return f.toString('utf8', 0, nul < 0 ? len : nul);
}

function detectFormat(b: Buffer): BlockFormat {
  const magic = field(b, F.magic);
  if (magic.equals(MAGIC_USTAR)) return field(b, F.starTrailer).equals(TRAILER_STAR) ? 'star' : 'ustar';
  if (magic.equals(MAGIC_GNU) && field(b, F.version).equals(VERSION_GNU)) return 'gnu';
  return 'v7';
}

/** Decodes and validates one non-zero header block found at archive `offset`. */
export function decodeHeader(b: Buffer, offset: number): RawHeader {
  const stored = parseNumeric(b, F.chksum[0], F.chksum[1]);
  const [unsigned, signed] = checksums(b);
  if (Number.isNaN(stored) || (stored !== unsigned && stored !== signed)) {
    throw invalidArchive(`bad header checksum (stored ${field(b, F.chksum).toString('latin1').replace(/\0/g, '\\0')}, computed ${unsigned.toString(8)})`, {
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

/** Fields as they go into a block: strings already cut to what the block should hold. */
export interface BlockFields {
  typeflag: number;
  name: Buffer;
  prefix?: Buffer;
  linkname?: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname?: Buffer;
  gname?: Buffer;
  /** Written as octal zeros when set (ustar entries), left NUL-filled otherwise (PAX meta entries, like Go). */
  devmajor?: number;
  devminor?: number;
}

function put(b: Buffer, [off, len]: readonly [number, number], s: Buffer | undefined): void {
  if (s) s.copy(b, off, 0, Math.min(len, s.length));
}

/** A ustar block ("ustar\0" "00") with its checksum; numeric fields must fit their octal width. */
export function encodeBlock(f: BlockFields): Buffer {
  const b = Buffer.alloc(BLOCK_SIZE);
  put(b, F.name, f.name);
  writeOctal(b, F.mode[0], F.mode[1], f.mode);
  writeOctal(b, F.uid[0], F.uid[1], f.uid);
  writeOctal(b, F.gid[0], F.gid[1], f.gid);
  writeOctal(b, F.size[0], F.size[1], f.size);
  writeOctal(b, F.mtime[0], F.mtime[1], f.mtime);
  b[F.typeflag[0]] = f.typeflag;
  put(b, F.linkname, f.linkname);
  MAGIC_USTAR.copy(b, F.magic[0]);
  VERSION_USTAR.copy(b, F.version[0]);
  put(b, F.uname, f.uname);
  put(b, F.gname, f.gname);
  if (f.devmajor !== undefined) writeOctal(b, F.devmajor[0], F.devmajor[1], f.devmajor);
  if (f.devminor !== undefined) writeOctal(b, F.devminor[0], F.devminor[1], f.devminor);
  put(b, F.prefix, f.prefix);
  // Like Go and GNU tar: six octal digits, NUL, space.
  const [sum] = checksums(b);
  writeOctal(b, CK_OFF, 7, sum);
  b[CK_OFF + 7] = 0x20;
  return b;
}
