// Reading the file behind an fs.ReadStream directly. A ReadStream delivers 64 KiB chunks by
// default, each one a read in libuv's thread pool that the consumer waits for: applying a
// 2 GiB layer that way costs 32 768 round trips. A ReadStream nobody has read from yet is
// taken over instead: the same file, the same byte range, read synchronously (a read from
// the page cache takes microseconds, less than the trip) in 1 MiB chunks.
//
// applyLayer's reads go into a few reused buffers: a fresh 1 MiB buffer per chunk is fresh
// memory the kernel must fault in, page by page (a 170 MB layer cost ~43 000 page faults,
// more CPU than parsing it). That is safe only because applyLayer's reader keeps nothing
// of a chunk once it asks for the next one (tar/reader.ts copies straddling headers, long
// names and PAX records; apply.ts writes each body chunk, or copies a small file's pieces,
// before asking for more): see the straddling test in diff/apply-pooled.test.ts.
import * as fs from 'node:fs';
import { setImmediate as turnOfTheLoop } from 'node:timers/promises';

/** Bytes per read. */
export const FILE_CHUNK = 1 << 20;

/** Read buffers applyLayer cycles through (one would do; the rest are a margin). */
export const READ_POOL = 4;

/** How a file is read in chunks (fs/file-chunks.ts, and GrowingFile.chunks). */
export interface FileChunksOptions {
  /** Bytes per read (default FILE_CHUNK). */
  chunkSize?: number;
  /**
   * Reuse this many read buffers in turn instead of a fresh one per chunk: a chunk's bytes
   * are then only valid until the consumer asks for the next chunk (strictly: until it has
   * asked for `reuse` more). Default 0: fresh chunks the consumer may keep.
   */
  reuse?: number;
}

interface ReadStreamState {
  path: unknown;
  start?: number;
  end?: number;
  bytesRead: number;
  flags?: string;
}

/**
 * The file and byte range behind `s` when it is an fs.ReadStream opened by path that has
 * not been read from (nor set flowing, nor given an encoding); undefined otherwise.
 */
export function untouchedReadStream(s: unknown): { path: string; start: number; end: number } | undefined {
  if (!(s instanceof fs.ReadStream)) return undefined;
  const r = s as fs.ReadStream & ReadStreamState;
  if (typeof r.path !== 'string' || r.path === '' || r.bytesRead !== 0 || r.readableLength !== 0 || r.destroyed) return undefined;
  if (r.readableFlowing === true || r.readableEncoding !== null || r.listenerCount('data') > 0) return undefined;
  if (r.flags !== undefined && r.flags !== 'r') return undefined;
  return { path: r.path, start: r.start ?? 0, end: r.end ?? Infinity };
}

/**
 * The bytes `start`..`end` (inclusive, as ReadStream's options) of the file at `path`, in
 * chunks of up to `chunkSize` bytes: fresh ones (a consumer may keep them) unless
 * `opts.reuse` says otherwise.
 */
export async function* fileChunks(path: string, start = 0, end = Infinity, opts: FileChunksOptions = {}): AsyncGenerator<Buffer> {
  const size = opts.chunkSize ?? FILE_CHUNK;
  const reuse = opts.reuse ?? 0;
  const pool: Buffer[] = [];
  let turn = 0;
  const fd = fs.openSync(path, 'r');
  try {
    let pos = start;
    while (pos <= end) {
      // The reads are synchronous and the consumer's awaits are microtasks: without a turn of
      // the event loop between chunks, no timer, signal (Ctrl-C) or abort would be seen
      // until the whole file was read. One turn per chunk costs microseconds.
      if (pos > start) await turnOfTheLoop();
      const want = Math.min(size, end - pos + 1);
      let buf: Buffer;
      if (reuse > 0) {
        const slot = turn++ % reuse;
        buf = pool[slot] ??= Buffer.allocUnsafeSlow(size);
      } else {
        buf = Buffer.allocUnsafeSlow(want);
      }
      const got = fs.readSync(fd, buf, 0, want, pos);
      if (got === 0) break;
      pos += got;
      yield got === buf.length ? buf : buf.subarray(0, got);
    }
  } finally {
    fs.closeSync(fd);
  }
}
