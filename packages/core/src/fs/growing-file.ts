// A file another process is still writing, read right behind the writer. A child's stdout
// pipe holds 64-208 KiB: an inflater writing into a thread that is busy creating files waits
// for it after every few hundred KiB, and the two take turns instead of working side by side
// (a 160 MB layer through igzip's pipe applied in ~1.1 s, against ~0.6 s with igzip writing
// into a file that the apply read behind it). A file takes whatever the writer is ahead by,
// in the page cache.
//
// The file is read synchronously in 1 MiB chunks (fs/file-chunks.ts says why), and an
// applyLayer given a GrowingFile reads it into reused buffers (directSource).
import * as fs from 'node:fs';
import { setImmediate as turnOfTheLoop, setTimeout as sleep } from 'node:timers/promises';
import { FILE_CHUNK, type FileChunksOptions } from './file-chunks.js';

/** How long a reader that has caught up with the writer waits before it looks again (ms). */
const POLL_MS = 1;

/** How {@link GrowingFile} reads. */
export interface GrowingFileOptions {
  /**
   * Sees every chunk once, in order, as it is read (before the consumer does), whoever reads
   * it: e.g. a digest of everything the writer wrote.
   */
  onChunk?: (chunk: Buffer) => void;
}

/**
 * The bytes of the file open at `fd` (read from offset 0, never written through `fd`), which
 * a writer is still appending to: iterating waits at the end of what is written until the
 * writer has written more or `finished` has settled. It ends when `finished` resolves and
 * every byte is read, and fails as soon as `finished` rejects (with that error).
 *
 * Reading resumes where the last iteration stopped, so a consumer that stops early (a tar
 * reader at the end-of-archive marker) can be followed by another that reads the rest.
 * Iterating it gives fresh chunks; {@link GrowingFile.chunks} can reuse buffers. The file
 * descriptor is the caller's to close, after the last read ({@link GrowingFile.close}).
 */
export class GrowingFile implements AsyncIterable<Buffer> {
  private pos = 0;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private closed = false;

  constructor(
    private readonly fd: number,
    finished: Promise<void>,
    private readonly opts: GrowingFileOptions = {},
  ) {
    finished.then(
      () => {
        this.ended = true;
      },
      (error: unknown) => {
        this.ended = true;
        this.failure = { error };
      },
    );
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.pos;
  }

  /** The rest of the file in fresh chunks (a consumer may keep them): {@link GrowingFile.chunks} with no options. */
  [Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    return this.chunks();
  }

  /**
   * The rest of the file in chunks of up to `opts.chunkSize` bytes; with `opts.reuse`, a
   * chunk is valid only until the next is asked for (as fs/file-chunks.ts's fileChunks).
   */
  async *chunks(opts: FileChunksOptions = {}): AsyncGenerator<Buffer> {
    const size = opts.chunkSize ?? FILE_CHUNK;
    const reuse = opts.reuse ?? 0;
    const pool: Buffer[] = [];
    let turn = 0;
    // a fresh buffer not handed out yet: a read that found nothing new keeps it for the next
    let spare: Buffer | undefined;
    for (;;) {
      if (this.failure) throw this.failure.error;
      // read what is there before believing the writer is done: it may have written its last
      // bytes just before it finished
      const wasEnded = this.ended;
      const buf = reuse > 0 ? (pool[turn % reuse] ??= Buffer.allocUnsafeSlow(size)) : (spare ??= Buffer.allocUnsafeSlow(size));
      const got = fs.readSync(this.fd, buf, 0, size, this.pos);
      if (got > 0) {
        this.pos += got;
        let chunk: Buffer;
        if (reuse > 0) {
          turn++;
          chunk = got === size ? buf : buf.subarray(0, got);
        } else if (got >= size >> 2) {
          chunk = got === size ? buf : buf.subarray(0, got);
          spare = undefined;
        } else {
          // a little, read just behind the writer: a copy, not a large buffer held for it
          chunk = Buffer.from(buf.subarray(0, got));
        }
        this.opts.onChunk?.(chunk);
        yield chunk;
        // synchronous reads and microtask awaits would never let a timer, a signal or an
        // abort in: one turn of the loop per chunk
        await turnOfTheLoop();
        continue;
      }
      if (wasEnded) return;
      // (not a race with `finished`: each race would leave one more reaction on it)
      await sleep(POLL_MS);
    }
  }

  /** Closes the file descriptor (once; later calls do nothing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
