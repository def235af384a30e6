// Compressors for the layers an export or push must compress: gzip by igzip (Debian isal)
// when it is installed, else pigz, else zlib; zstd by the zstd tool. Headers carry no name and
// no time of their own, so the same tar gives the same blob (reproducible exports); an export
// stamps the gzip header with the layer's time (stampGzipTime).
//
// Why igzip first: on the corpus base layer (171 MB of tar) `igzip -3` takes 0.7 s of CPU
// against 5.8 s for `pigz -6`, for a blob 8% larger (66.3 MB against 61.3 MB). Compression was
// the largest single cost of a push; a few percent more bytes is the cheaper side of that trade.
import { Transform, type Duplex, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { ImageErrorCode, imageError } from '../errors.js';
import { type BehindFile, runBehindFile } from './behind-file.js';
import { type Filter, filter } from './filter.js';

/** How an export or push compresses the layers it must compress. */
export type OutputCompression = 'gzip' | 'zstd';

// single-threaded on purpose: igzip's -T output depends on the thread count
const igzip = filter('igzip', ['-c', '-n', '-3', '-q']);
const pigz = filter('pigz', ['-c', '-n', '-6']);
const zstd = filter('zstd', ['-c', '-q', '-3', '-T0', '--no-progress']);

/**
 * Which gzip implementation: GRAPHDRIVER_GZIP=zlib|igzip|pigz forces one (tests compare them;
 * each gives other bytes, so the same choice on every machine gives the same digests).
 */
const gzipChoice = () => process.env.GRAPHDRIVER_GZIP;

/**
 * The program compressing `kind` here: gzip by igzip, else pigz when installed
 * (`GRAPHDRIVER_GZIP=zlib|igzip|pigz` forces one; undefined means zlib); zstd by the zstd
 * tool, ERR_UNSUPPORTED_IMAGE when it is not installed.
 */
async function compressProgram(kind: OutputCompression): Promise<Filter | undefined> {
  if (kind === 'zstd') {
    if (!(await zstd.available()))
      throw imageError(ImageErrorCode.UnsupportedImage, 'zstd compression needs the zstd tool (Debian package zstd)');
    return zstd;
  }
  const forced = gzipChoice();
  for (const f of [igzip, pigz]) {
    if ((forced === undefined || forced === f.command) && (await f.available())) return f;
  }
  return undefined;
}

/**
 * A compressing stream of `kind` (see compressProgram; zlib for gzip where no program is
 * there). Headers carry no name and no time, so the same input gives the same bytes with the
 * same implementation. The caller pipes into it and must end or destroy it.
 */
export async function createCompressor(kind: OutputCompression): Promise<Duplex> {
  // zlib's gzip header has mtime 0 and no name
  return (await compressProgram(kind))?.stream() ?? createGzip({ level: 6 });
}

/**
 * Compresses `input` (a stream, or a file descriptor read from its start) as
 * {@link createCompressor} would, with the program writing into a file in `dir` that is read
 * right behind it (compression/behind-file.ts says why). Undefined where zlib is the
 * compressor.
 */
export async function compressBehind(kind: OutputCompression, input: Readable | number, dir: string): Promise<BehindFile | undefined> {
  const program = await compressProgram(kind);
  return program ? runBehindFile(program, input, dir) : undefined;
}

/**
 * Sets the MTIME field of a gzip stream's header (bytes 4-7, little-endian seconds) and passes
 * everything else through: pigz and zlib both write a 10-byte header with no name, comment or
 * header CRC, so the field can be patched in place and the blob stays valid.
 */
export function stampGzipTime(seconds: number): Transform {
  const time = Math.max(0, Math.min(0xffffffff, Math.floor(seconds)));
  let head: Buffer | null = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (head === null) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < 10) return done();
      // FLG bit 1 (FHCRC) would cover the field with a checksum: no compressor here sets it
      if (head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8 || (head[3] & 2) !== 0)
        return done(imageError(ImageErrorCode.UnsupportedImage, 'the gzip compressor wrote an unexpected header'));
      head.writeUInt32LE(time, 4);
      const out = head;
      head = null;
      done(null, out);
    },
    flush(done) {
      // fewer than 10 bytes in all: not a gzip stream
      done(
        head !== null && head.length > 0
          ? imageError(ImageErrorCode.UnsupportedImage, 'the gzip compressor wrote a truncated header')
          : null,
      );
    },
  });
}
