// Layer tarballs arrive plain, gzip- or zstd-compressed; the format is told by the first
// bytes, never by a file name or media type, so a mislabelled blob is still read right.
// gzip is inflated by igzip (Debian isal) or unpigz child processes when installed: both
// inflate several times faster than zlib and run beside the tar unpacking on another core.
import { Readable, pipeline, type Duplex } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ErrorCode, GraphDriverError, type ToolError } from '@graphdriver/core';
import { type BehindFile, runBehindFile } from './behind-file.js';
import { type Filter, filter } from './filter.js';
import { createZstdDecompress } from './zstd.js';

export { createZstdDecompress };

/** A stream's compression as its first bytes tell it (`none`: anything else, read as is). */
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

/** What {@link decompressAuto} found and the stream to read. */
export interface Decompressed {
  /** The compression detected from the first bytes. */
  compression: Compression;
  /** The uncompressed bytes; the caller must consume or destroy it (an inflater process may run behind it). */
  stream: Readable;
}

/**
 * The compression `source`'s first bytes tell, and a stream of all its bytes: the peeked ones
 * are put back, so nothing is lost.
 */
export async function peekCompression(source: Readable): Promise<{ compression: Compression; input: Readable }> {
  const head = await readHead(source, 4);
  // a stream shorter than the magic has ended and cannot take its bytes back
  const input = source.readableEnded ? Readable.from(head.length ? [head] : []) : source;
  if (input === source && head.length) source.unshift(head);
  return { compression: detectCompression(head), input };
}

/**
 * Peeks at the first bytes of `input` and returns the uncompressed stream. The peeked bytes
 * are put back, so nothing is lost; errors of `input` and of the inflater reach the returned
 * stream, which is read with backpressure: memory stays flat however far the data inflates.
 */
export async function decompressAuto(source: Readable): Promise<Decompressed> {
  const { compression, input } = await peekCompression(source);
  const inflater = compression === 'gzip' ? await createGzipInflater() : compression === 'zstd' ? createZstdDecompress() : undefined;
  // pipeline, not pipe: it destroys every stage with the first error, so the reader gets it.
  const stream = inflater ? pipeline(input, inflater, () => {}) : input;
  // The caller reads only later (after opening the layer), and an error in between must not
  // be an unhandled 'error' event that kills the process. A stream keeps its error
  // (`errored`) and hands it to whoever reads it next; this listener only keeps it from
  // crashing the process meanwhile. (pipeline's own listeners are not enough: it stops
  // listening once the inflater has taken all input, and zlib reports a truncated stream
  // only after that, when it flushes.)
  stream.on('error', () => {});
  return { compression, stream };
}

// a failing inflater means corrupt gzip data, whichever program it was
// (the inflaters' words for a stream cut short are put as zlib puts them, one message for all)
const corrupt = (err: ToolError) => {
  const said = err.stderr.trim() || err.message;
  const why = /does not contain a complete gzip file|unexpected end of file/.test(said)
    ? `unexpected end of file (${err.command})`
    : `${said} (${err.command})`;
  return new GraphDriverError(ErrorCode.InvalidArchive, `invalid gzip data: ${why}`, { cause: err });
};
const igzip = filter('igzip', ['-d', '-c', '-q'], { failure: corrupt });
const unpigz = filter('unpigz', ['-c'], { failure: corrupt });

/**
 * The gzip inflating program to use here (igzip, else unpigz); undefined where neither is
 * installed or GRAPHDRIVER_GZIP=zlib (the tests force each on the same data) says zlib.
 */
export async function gzipProgram(): Promise<Filter | undefined> {
  const forced = process.env.GRAPHDRIVER_GZIP;
  if (forced === 'zlib') return undefined;
  for (const f of [igzip, unpigz]) {
    if ((forced === undefined || forced === f.command) && (await f.available())) return f;
  }
  return undefined;
}

/**
 * Inflates the gzip stream `input` with {@link gzipProgram}'s program into a file in `dir`,
 * read right behind it (compression/behind-file.ts says why). Undefined where zlib is the
 * inflater: it inflates in this process, with no pipe in between.
 */
export async function inflateBehind(
  input: Readable,
  dir: string,
  opts: { onChunk?: (chunk: Buffer) => void } = {},
): Promise<BehindFile | undefined> {
  const program = await gzipProgram();
  return program ? runBehindFile(program, input, dir, opts) : undefined;
}

/** The fastest gzip inflater here: {@link gzipProgram}'s, else zlib. */
export async function createGzipInflater(): Promise<Duplex> {
  return (await gzipProgram())?.stream() ?? createGunzip();
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
