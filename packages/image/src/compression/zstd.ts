// A zstd decoder stream whose memory stays bounded whatever the input claims.
//
// fzstd decodes everything it is given in one synchronous call, so a few KiB of run-length
// blocks (4 bytes stand for 128 KiB) would inflate to hundreds of MiB at once, past any
// backpressure. So the input is cut at block boundaries first and fed one block at a time
// (a block inflates to at most 128 KiB), yielding the output in between: the reader's pace
// sets the pace. And fzstd allocates (and moves, for every block) the window a frame header
// asks for, up to 2 GiB: frames asking for more than the zstd tool's own default limit are
// refused.
import { Duplex } from 'node:stream';
// fzstd: a maintained, dependency-free, pure-JS streaming zstd decoder (Node 20's zlib has
// no zstd). No native build and no system library, so the CLI installs anywhere.
import { Decompress as ZstdDecoder } from 'fzstd';
import { ErrorCode, GraphDriverError } from '@graphdriver/core';

/** The zstd tool's default window limit (--memory=128MB, i.e. --long=27). */
export const MAX_ZSTD_WINDOW = 128 << 20;

const invalid = (why: string, cause?: unknown) => new GraphDriverError(ErrorCode.InvalidArchive, `invalid zstd data: ${why}`, { cause });

/** A stream that inflates a zstd stream (any number of frames, skippable frames included). */
export function createZstdDecompress(): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const out: Buffer[] = [];
    const decoder = new ZstdDecoder((chunk) => {
      if (chunk.length) out.push(Buffer.from(chunk));
    });
    const push = (piece: Uint8Array, final: boolean) => {
      try {
        decoder.push(piece, final);
      } catch (err) {
        throw invalid((err as Error).message, err);
      }
      return out.splice(0);
    };
    for await (const piece of zstdPieces(source)) yield* push(piece, false);
    yield* push(new Uint8Array(0), true); // "unexpected EOF" for a truncated stream
  });
}

/**
 * Cuts a zstd stream into frame headers, single blocks, checksums and pieces of skippable
 * frames. It only finds the boundaries: what it cannot make sense of (a bad magic, a
 * reserved block type, an early end) is handed on whole for the decoder to refuse.
 */
async function* zstdPieces(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const q = new ByteQueue(source[Symbol.asyncIterator]());
  while (await q.fill(1)) {
    if (!(await q.fill(8))) return yield q.take(q.length);
    const head = q.peek(8);
    const magic = head.readUInt32LE(0);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // skippable frame: 8 header bytes, then `size` bytes the decoder skips; streamed through
      yield q.take(8);
      for (let left = head.readUInt32LE(4); left > 0 && (await q.fill(1)); ) {
        const piece = q.take(Math.min(left, q.firstLength()));
        left -= piece.length;
        yield piece;
      }
      continue;
    }
    if (magic !== 0xfd2fb528) return yield q.take(q.length);
    const fhd = head[4];
    const singleSegment = (fhd >> 5) & 1;
    const dictBytes = [0, 1, 2, 4][fhd & 3];
    const fcsBytes = fhd >> 6 ? 1 << (fhd >> 6) : singleSegment;
    const headerLength = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
    if (!(await q.fill(headerLength))) return yield q.take(q.length);
    const header = q.take(headerLength);
    const window = singleSegment ? contentSize(header.subarray(5 + dictBytes, headerLength), fcsBytes) : windowSize(header[5]);
    if (window > MAX_ZSTD_WINDOW) {
      throw invalid(`a frame needs a ${Math.ceil(window / 2 ** 20)} MiB window, over the ${MAX_ZSTD_WINDOW >> 20} MiB limit`);
    }
    yield header;
    // blocks: a 3-byte header (last flag, type, size), then the size in bytes (1 for a run)
    for (;;) {
      if (!(await q.fill(3))) return yield q.take(q.length);
      const h = q.peek(3).readUIntLE(0, 3);
      const length = 3 + (((h >> 1) & 3) === 1 ? 1 : h >> 3);
      if (!(await q.fill(length))) return yield q.take(q.length);
      yield q.take(length);
      if (h & 1) break;
    }
    if (fhd & 4) {
      // content checksum
      if (!(await q.fill(4))) return yield q.take(q.length);
      yield q.take(4);
    }
  }
}

/** Window_Descriptor: 2^(10+exponent), plus eighths of it. */
function windowSize(descriptor: number): number {
  const base = 2 ** (10 + (descriptor >> 3));
  return base + (base / 8) * (descriptor & 7);
}

/** Frame_Content_Size, the window of a single-segment frame (little endian; 2 bytes are offset by 256). */
function contentSize(bytes: Buffer, n: number): number {
  let size = 0;
  for (let i = n - 1; i >= 0; i--) size = size * 256 + bytes[i];
  return n === 2 ? size + 256 : size;
}

/** Buffered input chunks, taken from in exact lengths. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** True once `n` bytes are buffered, false if the input ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.length < n) {
      const r = await this.it.next();
      if (r.done) return false;
      this.chunks.push(r.value);
      this.length += r.value.length;
    }
    return true;
  }

  firstLength(): number {
    return this.chunks[0]?.length ?? 0;
  }

  peek(n: number): Buffer {
    const first = this.chunks[0];
    return first.length >= n ? first.subarray(0, n) : Buffer.concat(this.chunks, n);
  }

  take(n: number): Buffer {
    const out = this.peek(n);
    this.length -= n;
    for (let left = n; left > 0; ) {
      const c = this.chunks[0];
      if (c.length <= left) this.chunks.shift();
      else this.chunks[0] = c.subarray(left);
      left -= Math.min(c.length, left);
    }
    return out;
  }
}
