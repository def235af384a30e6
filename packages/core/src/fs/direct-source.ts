// The fastest way to read what applyLayer is given: the file behind an untouched
// fs.ReadStream (fs/file-chunks.ts), or a file still being written (fs/growing-file.ts), read
// directly into reused buffers instead of through the stream.
import type * as fs from 'node:fs';
import { READ_POOL, fileChunks, untouchedReadStream } from './file-chunks.js';
import { GrowingFile } from './growing-file.js';

/**
 * `source` itself, or, for an untouched fs.ReadStream, its file read directly (the stream
 * is destroyed, which closes the descriptor it opened) into READ_POOL reused buffers, and a
 * GrowingFile's rest likewise: the consumer must be done with a chunk when it asks for the
 * next (applyLayer is).
 */
export function directSource(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (source instanceof GrowingFile) return source.chunks({ reuse: READ_POOL });
  const file = untouchedReadStream(source);
  if (file === undefined) return source;
  (source as unknown as fs.ReadStream).destroy();
  return fileChunks(file.path, file.start, file.end, { reuse: READ_POOL });
}
