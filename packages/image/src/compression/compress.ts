// Compressors for the layers an export or push must compress: gzip by igzip (Debian isal)
// when it is installed, else pigz, else zlib; zstd by the zstd tool. Headers carry no name and
// no time, so the same tar gives the same blob (reproducible exports).
//
// Why igzip first: on the corpus base layer (171 MB of tar) `igzip -3` takes 0.7 s of CPU
// against 5.8 s for `pigz -6`, for a blob 8% larger (66.3 MB against 61.3 MB). Compression was
// the largest single cost of a push; a few percent more bytes is the cheaper side of that trade.
import type { Duplex } from 'node:stream';
import { createGzip } from 'node:zlib';
import { ImageErrorCode, imageError } from '../errors.js';
import { filter } from './filter.js';

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
 * A compressing stream of `kind`: gzip by igzip, else pigz when installed, else zlib
 * (`GRAPHDRIVER_GZIP=zlib|igzip|pigz` forces one); zstd by the zstd tool, ERR_UNSUPPORTED_IMAGE when it
 * is not installed. Headers carry no name and no time, so the same input gives the same bytes
 * with the same implementation. The caller pipes into it and must end or destroy it.
 */
export async function createCompressor(kind: OutputCompression): Promise<Duplex> {
  if (kind === 'zstd') {
    if (!(await zstd.available()))
      throw imageError(ImageErrorCode.UnsupportedImage, 'zstd compression needs the zstd tool (Debian package zstd)');
    return zstd.stream();
  }
  const forced = gzipChoice();
  for (const f of [igzip, pigz]) {
    if ((forced === undefined || forced === f.command) && (await f.available())) return f.stream();
  }
  // zlib's gzip header has mtime 0 and no name
  return createGzip({ level: 6 });
}
