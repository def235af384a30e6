// Pull-based byte cursor over an async iterable of chunks. It pulls the next chunk only
// when asked for bytes it does not hold (backpressure) and hands out subarrays of the
// chunks it got, copying only when a header block straddles two chunks.

const EMPTY = Buffer.alloc(0);

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`tar source yielded ${typeof chunk}, expected Uint8Array chunks`);
}

export class ByteSource {
  /** Bytes consumed so far (the archive offset of the next byte). */
  position = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  private head: Buffer = EMPTY;
  private ended = false;
  private pulling = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Makes sure some bytes are buffered; false at end of input. */
  async fill(): Promise<boolean> {
    while (this.head.length === 0) {
      if (this.ended) return false;
      if (this.pulling) throw new Error('tar reader: concurrent reads (a body was read while the reader moved on)');
      this.pulling = true;
      try {
        const r = await this.it.next();
        if (r.done) this.ended = true;
        else this.head = toBuffer(r.value);
      } finally {
        this.pulling = false;
      }
    }
    return true;
  }

  /** Up to `max` buffered bytes, without copying; call fill() first. */
  take(max: number): Buffer {
    const h = this.head;
    if (h.length <= max) {
      this.head = EMPTY;
      this.position += h.length;
      return h;
    }
    this.head = h.subarray(max);
    this.position += max;
    return h.subarray(0, max);
  }

  /** `n` bytes if they are already buffered (no promise on the hot path), else undefined. */
  readBuffered(n: number): Buffer | undefined {
    return this.head.length >= n ? this.take(n) : undefined;
  }

  /** The next `n` bytes without consuming them, if already buffered; else undefined. */
  peekBuffered(n: number): Buffer | undefined {
    return this.head.length >= n ? this.head.subarray(0, n) : undefined;
  }

  /** Discards `n` bytes if they are already buffered; false (and nothing consumed) otherwise. */
  skipBuffered(n: number): boolean {
    if (this.head.length < n) return false;
    this.take(n);
    return true;
  }

  /** Exactly `n` bytes, or fewer if the input ends first (0 at a clean end). */
  async read(n: number): Promise<Buffer> {
    if (this.head.length >= n) return this.take(n);
    if (!(await this.fill())) return EMPTY;
    if (this.head.length >= n) return this.take(n);
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n && (await this.fill())) got += this.take(n - got).copy(out, got);
    return got === n ? out : out.subarray(0, got);
  }

  /** Discards up to `n` bytes; returns how many were there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.head.length === 0 && !(await this.fill())) break;
      left -= this.take(left).length;
    }
    return n - left;
  }

  /** Releases the underlying iterator (destroys a Readable), like leaving a for-await loop. */
  async close(): Promise<void> {
    this.head = EMPTY;
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }
}
