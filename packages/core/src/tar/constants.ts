// Layout of the 512-byte tar header block (POSIX ustar, with the GNU and star variants we
// need to recognise on read) and the typeflags we map to EntryType.

export const BLOCK_SIZE = 512;

/** Default cap on a PAX / GNU long-name body: large enough for real xattrs, small enough to stop a "PAX bomb". */
export const DEFAULT_MAX_PAX_BYTES = 1024 * 1024;

/** [offset, length] of each field. */
export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
  /** star keeps atime/ctime at 476..500, so its prefix is shorter. */
  starPrefix: [345, 131],
  starTrailer: [508, 4],
} as const satisfies Record<string, readonly [number, number]>;

export const MAGIC_USTAR = Buffer.from('ustar\0', 'latin1');
export const VERSION_USTAR = Buffer.from('00', 'latin1');
export const MAGIC_GNU = Buffer.from('ustar ', 'latin1');
export const VERSION_GNU = Buffer.from(' \0', 'latin1');
export const TRAILER_STAR = Buffer.from('tar\0', 'latin1');

/** Typeflag bytes (as char codes). */
export const T = {
  regA: 0, // '\0', old V7 regular file
  reg: 0x30, // '0'
  link: 0x31, // '1'
  symlink: 0x32, // '2'
  char: 0x33, // '3'
  block: 0x34, // '4'
  dir: 0x35, // '5'
  fifo: 0x36, // '6'
  cont: 0x37, // '7', contiguous file: a regular file everywhere that matters
  paxLocal: 0x78, // 'x'
  paxGlobal: 0x67, // 'g'
  gnuLongName: 0x4c, // 'L'
  gnuLongLink: 0x4b, // 'K'
  gnuSparse: 0x53, // 'S'
} as const;

/** PAX record keys we interpret. */
export const PAX = {
  path: 'path',
  linkpath: 'linkpath',
  size: 'size',
  uid: 'uid',
  gid: 'gid',
  uname: 'uname',
  gname: 'gname',
  mtime: 'mtime',
  atime: 'atime',
  ctime: 'ctime',
  xattrPrefix: 'SCHILY.xattr.',
  gnuSparsePrefix: 'GNU.sparse.',
} as const;

/** Shared all-zero block. Callers must never write into it (or into slices of it). */
export const ZERO_BLOCK: Buffer = Buffer.alloc(BLOCK_SIZE);
