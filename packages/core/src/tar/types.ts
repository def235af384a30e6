// The shape of a tar entry as the rest of core sees it. The reader yields these and the
// writer encodes them; nothing outside src/tar/ knows about ustar or PAX blocks.

/** What a tar entry is; the typeflags this library reads and writes (others are ERR_UNSUPPORTED_ENTRY). */
export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One tar entry's header, decoded: ustar fields with GNU long names and PAX records already applied. */
export interface TarHeader {
  /** Entry name as stored (no leading "./" stripping here; directories may end in "/"). */
  name: string;
  /** The entry's kind. */
  type: EntryType;
  /**
   * Permission bits including setuid/setgid/sticky (mode & 0o7777). The writer stores only
   * those unless told to keep the file-type bits too (EncodeOptions.fileTypeBits).
   */
  mode: number;
  /** Numeric owner as stored; the applier uses the number, never `uname`. */
  uid: number;
  /** Numeric group as stored. */
  gid: number;
  /** Owner name, informational only. */
  uname?: string;
  /** Group name, informational only. */
  gname?: string;
  /** Data bytes that follow the header: regular files only, 0 otherwise. */
  size: number;
  /** Modification time in seconds since the epoch; may carry a fraction (PAX). */
  mtime: number;
  /** Symlink target, or the archive name a hardlink points to. */
  linkname?: string;
  /** Major device number of a `char` or `block` entry. */
  devmajor?: number;
  /** Minor device number of a `char` or `block` entry. */
  devminor?: number;
  /** Extended attributes (SCHILY.xattr.*), values as raw bytes. */
  xattrs?: Map<string, Buffer>;
}

/** An entry read from an archive; `body` must be consumed (or left) before the next entry. */
export interface TarEntry {
  /** The decoded header. */
  header: TarHeader;
  /** The entry's `header.size` data bytes, streamed from the archive; empty for non-files. */
  body: AsyncIterable<Buffer>;
}
