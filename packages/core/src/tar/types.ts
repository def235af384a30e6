// The shape of a tar entry as the rest of core sees it. The reader yields these and the
// writer encodes them; nothing outside src/tar/ knows about ustar or PAX blocks.

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** Entry name as stored (no leading "./" stripping here; directories may end in "/"). */
  name: string;
  type: EntryType;
  /**
   * Permission bits including setuid/setgid/sticky (mode & 0o7777). The writer stores only
   * those unless told to keep the file-type bits too (EncodeOptions.fileTypeBits).
   */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** Data bytes that follow the header: regular files only, 0 otherwise. */
  size: number;
  /** Modification time in seconds since the epoch; may carry a fraction (PAX). */
  mtime: number;
  /** Symlink target, or the archive name a hardlink points to. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (SCHILY.xattr.*), values as raw bytes. */
  xattrs?: Map<string, Buffer>;
}

/** An entry read from an archive; `body` must be consumed (or left) before the next entry. */
export interface TarEntry {
  header: TarHeader;
  body: AsyncIterable<Buffer>;
}
