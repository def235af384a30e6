// Our own streaming tar reader and writer (ustar + PAX, binary-safe xattrs).
export { readTar, type ReadTarOptions } from './reader.js';
export { encodeHeader, padding, END_OF_ARCHIVE, packEntries, type EncodeOptions, type PackEntry } from './writer.js';
export type { TarHeader, TarEntry, EntryType } from './types.js';
