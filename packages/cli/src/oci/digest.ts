// sha256 digests of blobs and layer tars, computed while the bytes stream past.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { join } from 'node:path';
import { GraphDriverError } from '@graphdriver/core';
import { CliErrorCode } from '../cli-errors.js';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

/** The hex part of a "sha256:<hex>" digest; other algorithms are refused. */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new GraphDriverError(CliErrorCode.OciInvalid, `unsupported or malformed digest ${JSON.stringify(digest)} (sha256 only)`);
  return m[1];
}

export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digestHex(digest));
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The digest of a whole file, read as a stream. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
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

/** A pass-through that hashes and counts what flows through it. */
export class DigestCounter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private result?: string;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
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

export function digestMismatch(what: string, expected: string, actual: string): GraphDriverError {
  return new GraphDriverError(CliErrorCode.DigestMismatch, `${what}: digest mismatch: expected ${expected}, got ${actual}`);
}
