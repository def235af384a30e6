// Layer tarballs arrive plain, gzip- or zstd-compressed; the format is told by the first
// bytes, never by a file name or media type, so a mislabelled blob is still read right.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
// fzstd: a maintained, dependency-free, pure-JS streaming zstd decoder (Node 20's zlib has
// no zstd). No native build and no system library, so the CLI installs anywhere.
import { Decompress as ZstdDecoder } from 'fzstd';
import { ErrorCode, GraphDriverError } from '@graphdriver/core';

export type Compression = 'none' | 'gzip' | 'zstd';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** Skippable zstd frames (0x184D2A50..5F, little endian) may open a zstd stream. */
const isZstdSkippable = (b: Uint8Array) => b.length >= 4 && (b[0] & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18;

function startsWith(head: Uint8Array, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((v, i) => head[i] === v);
}

/** Compression of a stream from its first bytes (at least 4 for a sure answer). */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC) || isZstdSkippable(head)) return 'zstd';
  return 'none';
}

/** A Transform that inflates a zstd stream (any number of frames). */
export function createZstdDecompress(): Transform {
  let decoder: ZstdDecoder;
  return new Transform({
    construct(cb) {
      decoder = new ZstdDecoder((chunk) => {
        if (chunk.length) this.push(Buffer.from(chunk));
      });
      cb();
    },
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        decoder.push(chunk);
        cb();
      } catch (err) {
        cb(zstdError(err));
      }
    },
    flush(cb: TransformCallback) {
      try {
        decoder.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(zstdError(err));
      }
    },
  });
}

function zstdError(err: unknown): Error {
  return new GraphDriverError(ErrorCode.InvalidArchive, `invalid zstd data: ${(err as Error).message}`, { cause: err });
}


export interface Decompressed {
  compression: Compression;
  stream: Readable;
}

/**
 * Peeks at the first bytes of `input` and returns the uncompressed stream. The peeked bytes
 * are put back, so nothing is lost; errors of `input` reach the returned stream.
 */
export async function decompressAuto(source: Readable): Promise<Decompressed> {
  const head = await readHead(source, 4);
  // a stream shorter than the magic has ended and cannot take its bytes back
  const input = source.readableEnded ? Readable.from(head.length ? [head] : []) : source;
  if (input === source && head.length) source.unshift(head);
  const compression = detectCompression(head);
  if (compression === 'none') return { compression, stream: input };
  const inflater = compression === 'gzip' ? createGunzip() : createZstdDecompress();
  input.on('error', (err) => inflater.destroy(err));
  inflater.on('close', () => input.destroy());
  return { compression, stream: input.pipe(inflater) };
}

/** Reads up to `n` bytes (fewer only at end of stream) without losing any. */
async function readHead(input: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = input.read() as Buffer | null;
    if (chunk !== null) {
      parts.push(chunk);
      have += chunk.length;
      continue;
    }
    if (input.readableEnded || input.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const done = (v: boolean) => {
        input.off('readable', onReadable).off('end', onEnd).off('error', onError);
        resolve(v);
      };
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onError = (err: Error) => {
        input.off('readable', onReadable).off('end', onEnd).off('error', onError);
        reject(err);
      };
      input.once('readable', onReadable).once('end', onEnd).once('error', onError);
    });
    if (ended) break;
  }
  return Buffer.concat(parts);
}
