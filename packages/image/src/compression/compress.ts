// Compressors for the layers an export or push must compress: gzip by pigz (parallel) when it
// is installed, else zlib; zstd by the zstd tool. Headers carry no name and no time, so the
// same tar gives the same blob (reproducible exports).
import type { Duplex } from 'node:stream';
import { createGzip } from 'node:zlib';
import { ImageErrorCode, imageError } from '../errors.js';
import { filter } from './filter.js';

/** How an export or push compresses the layers it must compress. */
export type OutputCompression = 'gzip' | 'zstd';

const pigz = filter('pigz', ['-c', '-n', '-6']);
const zstd = filter('zstd', ['-c', '-q', '-3', '-T0', '--no-progress']);

/** Which gzip implementation: GRAPHDRIVER_GZIP=zlib forces zlib (tests compare them). */
const gzipChoice = () => process.env.GRAPHDRIVER_GZIP;

/**
 * A compressing stream of `kind`: gzip by pigz when installed, else zlib
 * (`GRAPHDRIVER_GZIP=zlib` forces zlib); zstd by the zstd tool, ERR_UNSUPPORTED_IMAGE when it
 * is not installed. Headers carry no name and no time, so the same input gives the same bytes
 * with the same implementation. The caller pipes into it and must end or destroy it.
 */
export async function createCompressor(kind: OutputCompression): Promise<Duplex> {
  if (kind === 'zstd') {
    if (!(await zstd.available()))
      throw imageError(ImageErrorCode.UnsupportedImage, 'zstd compression needs the zstd tool (Debian package zstd)');
    return zstd.stream();
  }
  if (gzipChoice() !== 'zlib' && (await pigz.available())) return pigz.stream();
  // zlib's gzip header has mtime 0 and no name
  return createGzip({ level: 6 });
}
