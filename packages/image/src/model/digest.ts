// sha256 digests (the only algorithm accepted), diff IDs and chain IDs, computed while the
// bytes stream past.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ImageErrorCode, imageError } from '../errors.js';

/** A digest this package accepts: `sha256:` and 64 lower-case hex digits (group 1 is the hex). */
export const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

/** True for a well-formed `sha256:<64 hex>` string (see {@link DIGEST_RE}). */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** The hex part of a `sha256:<hex>` digest; anything else is ERR_IMAGE_INVALID. */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw imageError(ImageErrorCode.InvalidImage, `unsupported or malformed digest ${JSON.stringify(digest)} (sha256:<64 hex> only)`);
  return m[1];
}

/** The `sha256:<hex>` digest of `data` (a string is hashed as UTF-8). */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Docker's chain IDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " +
 * DiffID(Ln)). They name a layer by its content and everything under it.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    digestHex(diffId);
    out.push(out.length === 0 ? diffId : sha256(`${out[out.length - 1]} ${diffId}`));
  }
  return out;
}

/**
 * A pass-through that hashes and counts what flows through it; read {@link DigestCounter.digest}
 * once it has ended. More bytes than `limit` fail the stream with ERR_DIGEST_MISMATCH.
 */
export class DigestCounter extends Transform {
  private readonly hash: Hash;
  /** Bytes seen so far (including a seed's). */
  bytes = 0;
  private result?: string;
  private readonly onBytes?: (n: number) => void;
  private readonly limit: number;
  /**
   * `seed`: bytes already hashed elsewhere (a resumed download's partial file); `limit`: more
   * bytes than this fail the stream (a blob longer than its descriptor says is refused as it
   * arrives, not after it has filled the disk).
   */
  constructor(opts: { onBytes?: (n: number) => void; seed?: { hash: Hash; bytes: number }; limit?: number; what?: string } = {}) {
    super();
    this.onBytes = opts.onBytes;
    this.hash = opts.seed?.hash ?? createHash('sha256');
    this.bytes = opts.seed?.bytes ?? 0;
    this.limit = opts.limit ?? Infinity;
    this.what = opts.what ?? 'blob';
  }
  private readonly what: string;
  /** @internal */
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.bytes + chunk.length > this.limit) {
      cb(imageError(ImageErrorCode.DigestMismatch, `${this.what}: more than the ${this.limit} bytes its descriptor gives`));
      return;
    }
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
  /** @internal */
  override _flush(cb: TransformCallback): void {
    this.result = `sha256:${this.hash.digest('hex')}`;
    cb();
  }
  /** The digest of everything that passed; only once the stream has ended. */
  get digest(): string {
    if (!this.result) throw new Error('digest read before the stream ended');
    return this.result;
  }
}
