// The engine behind exportChanges and tarDirectory: turns planned entries (headers, and
// where each file's data is) into tar bytes, in fixed-size chunks handed to an output. The
// outputs are in tar-output.ts: a Readable, and a file writer that reuses its chunks.
//
// Performance: header blocks are encoded straight into the chunk and file contents are
// read straight into it, so nothing is copied twice and each chunk is one big write
// downstream. Small files are read synchronously (cheaper than a trip through the thread
// pool); big ones are read by the libuv thread pool while this thread goes on with the
// next entries. Production stops when the output asks for a pause or too many chunks wait
// for reads (backpressure), so memory stays bounded whatever the file sizes.
import { closeSync, read, readSync } from 'node:fs';
import type { TarHeader } from '../tar/types.js';
import { encodeHeader } from '../tar/writer.js';
import { UstarCache, encodeUstarInto } from '../tar/header-fast.js';

/** Headers as Docker writes them: the mode field keeps st_mode's file-type bits. */
const ENCODE_OPTIONS = { fileTypeBits: true } as const;

/** Size of the chunks handed to the output. */
export const CHUNK_SIZE = 1 << 20;
/** Chunks in hand at most (being filled, or waiting for thread-pool reads). */
export const MAX_CHUNKS = 8;
/** Bodies at least this big are read by the thread pool, in parallel with the walk. */
const ASYNC_MIN = 64 << 10;
const BLOCK = 512;

/** One entry to write: its header and, for regular files with data, where to read it. */
export interface Planned {
  header: TarHeader;
  /** Absolute path of the file whose `header.size` bytes follow the header. */
  bodyPath?: string;
  /** Already-open descriptor of bodyPath. */
  fd?: number;
}

/**
 * Where the assembler gets its entries from, one at a time: a planned entry, null for a
 * path to pass over, or undefined at the end. (Plain objects rather than generators: this
 * runs once per file, and nested generators cost a frame per directory level per entry.)
 */
export interface PlanSource {
  next(): Planned | null | undefined;
  /** Called once the plan is done with, ended or not (puts back what the walk changed). */
  close?(): void;
}

/** Where the chunks go. */
export interface ChunkOutput {
  /** A buffer of CHUNK_SIZE bytes to fill; its contents need not be zeroed. */
  alloc(): Buffer;
  /**
   * Takes a finished chunk: its first `length` bytes are the archive's next bytes. False
   * asks the assembler to pause until resume() is called.
   */
  put(chunk: Buffer, length: number): boolean;
  /** The archive is complete. */
  end(): void;
  /** The archive cannot be completed (the assembler has stopped and closed its files). */
  fail(err: Error): void;
}

/** One output buffer: filled in order, handed over once every read into it has landed. */
interface Chunk {
  buf: Buffer;
  used: number;
  /** Asynchronous reads still writing into buf. */
  pending: number;
}

/** A file body being copied: the descriptor is closed when the last read into it is done. */
interface Body {
  fd: number;
  path: string;
  size: number;
  /** Next byte to schedule. */
  pos: number;
  /** Reads scheduled but not finished. */
  inflight: number;
  /** All bytes scheduled. */
  scheduled: boolean;
  closed: boolean;
}

/**
 * Writes planned entries as tar: headers (plain ustar ones encoded in place), bodies,
 * padding, then the two zero blocks ending the archive.
 *
 * Small files are read synchronously into the current chunk. Bodies of ASYNC_MIN bytes or
 * more are read by the libuv thread pool straight into their place in the chunks, while
 * this thread goes on with the next entries' metadata: chunks are handed over in order as
 * their reads complete. At most MAX_CHUNKS chunks are in hand (being filled or waiting for
 * reads) and production pauses whenever the output asks, so memory stays bounded whatever
 * the file sizes.
 */
export class TarAssembler {
  /** Chunks not yet handed over, oldest first; the last one is being filled. */
  private readonly chunks: Chunk[] = [];
  private body: Body | null = null;
  private padLeft = 0;
  private planDone = false;
  private ended = false;
  /** The output wants data (set by resume, cleared when put() says stop). */
  private wanted = false;
  private producing = false;
  private failed = false;
  private readonly openBodies = new Set<Body>();
  private readonly headerCache = new UstarCache();

  constructor(
    private readonly plan: PlanSource,
    private readonly out: ChunkOutput,
  ) {}

  /** Produces until the output asks for a pause, reads are awaited, or the archive ends. */
  resume(): void {
    this.wanted = true;
    this.produce();
  }

  /**
   * Stops for good: descriptors with no read in flight are closed now, the others by the
   * last read's callback (closing under a running read could hand its number to another
   * open). The output is not called again.
   */
  abort(): void {
    this.failed = true;
    try {
      this.closePlan();
    } catch {
      // ignore: tearing down, and the archive has already failed
    }
    for (const b of [...this.openBodies]) {
      if (b.inflight > 0) continue;
      try {
        this.closeBody(b);
      } catch {
        // ignore: tearing down
      }
    }
  }

  private planClosed = false;
  /** Ends the plan once; at the end of the archive, a failure (a mode not put back) fails it. */
  private closePlan(): void {
    if (this.planClosed) return;
    this.planClosed = true;
    this.plan.close?.();
  }

  /** The chunk being filled, with room for at least one byte. */
  private current(): Chunk {
    let c = this.chunks.length > 0 ? this.chunks[this.chunks.length - 1] : undefined;
    if (c === undefined || c.used === CHUNK_SIZE) {
      c = { buf: this.out.alloc(), used: 0, pending: 0 };
      this.chunks.push(c);
    }
    return c;
  }

  /** Hands over the finished chunks at the head of the queue, in order. */
  private putReady(): void {
    while (this.chunks.length > 0) {
      const c = this.chunks[0];
      if (c.pending > 0) return;
      const last = this.chunks.length === 1;
      if (c.used < CHUNK_SIZE && !(last && this.planDone && this.body === null && this.padLeft === 0)) return;
      this.chunks.shift();
      if (c.used > 0 && !this.out.put(c.buf, c.used)) this.wanted = false;
      if (this.failed) return; // put() may fail the archive (a destroyed stream)
    }
    if (this.planDone && !this.ended && this.chunks.length === 0 && this.body === null && this.openBodies.size === 0) {
      this.ended = true;
      this.out.end();
    }
  }

  private copyIn(b: Buffer): void {
    let off = 0;
    while (off < b.length) {
      const c = this.current();
      const n = Math.min(CHUNK_SIZE - c.used, b.length - off);
      b.copy(c.buf, c.used, off, off + n);
      c.used += n;
      off += n;
    }
  }

  /** Writes `n` zero bytes: padding and the end-of-archive blocks. */
  private zeros(n: number): void {
    while (n > 0) {
      const c = this.current();
      const k = Math.min(CHUNK_SIZE - c.used, n);
      c.buf.fill(0, c.used, c.used + k);
      c.used += k;
      n -= k;
    }
  }

  /** Writes the header blocks of `h`: straight into the chunk when plain ustar will do. */
  private putHeader(h: TarHeader): void {
    const c = this.current();
    // Everything written is whole blocks, so a chunk with room has room for a block.
    if (encodeUstarInto(h, c.buf, c.used, true, this.headerCache)) c.used += BLOCK;
    else this.copyIn(encodeHeader(h, ENCODE_OPTIONS));
  }

  /** Reads a small body synchronously into the chunks, and closes its descriptor. */
  private readSmall(fd: number, size: number): void {
    try {
      let pos = 0;
      while (pos < size) {
        const c = this.current();
        const want = Math.min(CHUNK_SIZE - c.used, size - pos);
        let n = readSync(fd, c.buf, c.used, want, pos);
        if (n === 0) {
          // The file shrank after its header was written: pad with zeros so the archive
          // stays well-formed (readers go by the header's size).
          c.buf.fill(0, c.used, c.used + want);
          n = want;
        }
        c.used += n;
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Schedules thread-pool reads for the next part of a large body; false when out of chunk budget. */
  private scheduleLarge(body: Body): boolean {
    while (body.pos < body.size) {
      if (this.chunks.length >= MAX_CHUNKS && this.chunks[this.chunks.length - 1].used === CHUNK_SIZE) return false;
      const c = this.current();
      const want = Math.min(CHUNK_SIZE - c.used, body.size - body.pos);
      this.readInto(body, c, c.used, want, body.pos);
      c.used += want;
      body.pos += want;
    }
    body.scheduled = true;
    return true;
  }

  private readInto(body: Body, c: Chunk, off: number, len: number, pos: number): void {
    c.pending++;
    body.inflight++;
    read(body.fd, c.buf, off, len, pos, (err, n) => {
      if (this.failed) {
        // Torn down meanwhile: the descriptor is ours to close once no read uses it.
        if (--body.inflight === 0) this.closeBody(body);
        return;
      }
      if (err) {
        body.inflight--;
        this.fail(Object.assign(err, { path: body.path }));
        if (body.inflight === 0) this.closeBody(body);
        return;
      }
      if (n === 0) {
        c.buf.fill(0, off, off + len); // shrank meanwhile: zeros, as above
      } else if (n < len) {
        body.inflight--;
        c.pending--;
        this.readInto(body, c, off + n, len - n, pos + n);
        return;
      }
      body.inflight--;
      c.pending--;
      if (body.scheduled && body.inflight === 0) this.closeBody(body);
      this.putReady();
      if (this.wanted) this.produce();
    });
  }

  private closeBody(body: Body): void {
    if (body.closed) return;
    body.closed = true;
    this.openBodies.delete(body);
    closeSync(body.fd);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.abort();
    this.out.fail(err);
  }

  private produce(): void {
    if (this.producing || this.failed) return;
    this.producing = true;
    try {
      this.produceLoop();
      this.putReady();
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.producing = false;
    }
  }

  private produceLoop(): void {
    while (this.wanted && !this.planDone && !this.failed) {
      if (this.body !== null) {
        const body = this.body;
        if (!this.scheduleLarge(body)) {
          // Out of chunks: wait for reads to land (their callbacks call produce again).
          this.putReady();
          if (this.chunks.length >= MAX_CHUNKS) return;
          continue;
        }
        this.body = null;
        if (body.inflight === 0) this.closeBody(body);
      }
      if (this.padLeft > 0) {
        this.zeros(this.padLeft);
        this.padLeft = 0;
      }
      if (this.chunks.length > 1) {
        this.putReady();
        if (!this.wanted || this.chunks.length >= MAX_CHUNKS) return;
      }
      const item = this.plan.next();
      if (item === undefined) {
        this.zeros(2 * BLOCK); // end of archive
        this.planDone = true;
        this.closePlan();
        return;
      }
      if (item === null) continue;
      if (item.fd === undefined) {
        this.putHeader(item.header);
        continue;
      }
      try {
        this.putHeader(item.header);
      } catch (err) {
        closeSync(item.fd);
        throw err;
      }
      const size = item.header.size;
      const rem = size % BLOCK;
      this.padLeft = rem === 0 ? 0 : BLOCK - rem;
      if (size < ASYNC_MIN) {
        this.readSmall(item.fd, size);
        continue;
      }
      const body: Body = { fd: item.fd, path: item.bodyPath ?? '', size, pos: 0, inflight: 0, scheduled: false, closed: false };
      this.openBodies.add(body);
      this.body = body;
    }
  }
}
