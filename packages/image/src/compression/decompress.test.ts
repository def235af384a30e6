// Compression detection and the zstd decoder, on data made by the real gzip and zstd tools.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { missingPrograms, requireBackingSystem } from '@graphdriver/core/testing';
import { describe, expect, it } from 'vitest';
import { createZstdDecompress, decompressAuto, detectCompression } from './decompress.js';

const hasZstd = requireBackingSystem('the zstd tests', missingPrograms(['zstd']));

/** Compressible but not trivial bytes. */
function sample(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 7 + (i >> 9)) & 0xff;
  return out;
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A stream handing out `data` in chunks of `size` bytes. */
const chunked = (data: Buffer, size: number) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    })(),
  );

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('detectCompression', () => {
  it('tells gzip, zstd (and zstd skippable frames) and plain data by magic', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from([0x5a, 0x2a, 0x4d, 0x18]))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });
});

describe('decompressAuto', () => {
  const data = sample(3 << 20);
  const gz = execFileSync('gzip', ['-c'], { input: data, maxBuffer: 64 << 20 });

  it('passes plain data through untouched, whatever the chunking', async () => {
    for (const size of [1, 3, 4096, 1 << 20]) {
      const { compression, stream } = await decompressAuto(chunked(data.subarray(0, 100_000), size));
      expect(compression).toBe('none');
      expect((await collect(stream)).equals(data.subarray(0, 100_000))).toBe(true);
    }
  });

  it('handles inputs shorter than the magic, and empty ones', async () => {
    for (const input of [Buffer.alloc(0), Buffer.from([0x1f]), Buffer.from([0x28, 0xb5, 0x2f])]) {
      const { stream } = await decompressAuto(chunked(input, 1));
      expect((await collect(stream)).equals(input)).toBe(true);
    }
  });

  it('inflates gzip', async () => {
    const { compression, stream } = await decompressAuto(chunked(gz, 65536));
    expect(compression).toBe('gzip');
    expect(sha(await collect(stream))).toBe(sha(data));
  });

  it.skipIf(!hasZstd)(
    'inflates zstd made by the zstd tool: levels, checksums, long windows, several frames, skippable frames',
    async () => {
      const variants = [
        execFileSync('zstd', ['-q', '-c', '-1'], { input: data, maxBuffer: 64 << 20 }),
        execFileSync('zstd', ['-q', '-c', '-19', '--no-check'], { input: data, maxBuffer: 64 << 20 }),
        execFileSync('zstd', ['-q', '-c', '--long=27', '-3'], { input: data, maxBuffer: 64 << 20 }),
      ];
      // two frames back to back, and a skippable frame in front (as zstd:chunked writes them)
      const half = data.length / 2;
      const twoFrames = Buffer.concat([
        execFileSync('zstd', ['-q', '-c'], { input: data.subarray(0, half) }),
        execFileSync('zstd', ['-q', '-c'], { input: data.subarray(half) }),
      ]);
      const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]), variants[0]]);
      for (const z of [...variants, twoFrames, skippable]) {
        for (const size of [7, 65536]) {
          const { compression, stream } = await decompressAuto(chunked(z, size));
          expect(compression).toBe('zstd');
          expect(sha(await collect(stream))).toBe(sha(data));
        }
      }
    },
  );

  it.skipIf(!hasZstd)('inflates zstd fed a byte or a few at a time (frame and block headers split anywhere)', async () => {
    const small = data.subarray(0, 200_000);
    const half = small.length / 2;
    const z = Buffer.concat([
      Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]),
      execFileSync('zstd', ['-q', '-c', '-3'], { input: small.subarray(0, half) }),
      execFileSync('zstd', ['-q', '-c', '--no-check', '-19'], { input: small.subarray(half) }),
    ]);
    for (const size of [1, 3]) {
      const { stream } = await decompressAuto(chunked(z, size));
      expect(sha(await collect(stream))).toBe(sha(small));
    }
  });

  it("refuses a zstd frame asking for a window over 128 MiB (the zstd tool's own limit) before allocating it", async () => {
    // an empty frame with a 1 GiB window; a 128 MiB one (--long=27) is fine, see above
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00]);
    await expect(collect(chunked(frame, 4096).pipe(createZstdDecompress()))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARCHIVE',
      message: 'invalid zstd data: a frame needs a 1024 MiB window, over the 128 MiB limit',
    });
  });

  it('keeps an error that comes before anyone reads for the reader, instead of crashing', async () => {
    // the CLI opens the layer between decompressAuto and the first read; zlib reports a
    // truncated stream when it flushes, after pipeline() has stopped listening
    // (small, so that zlib takes all of it without anyone reading)
    const small = execFileSync('gzip', ['-c'], { input: data.subarray(0, 20_000) });
    process.env.GRAPHDRIVER_GZIP = 'zlib';
    const { stream } = await decompressAuto(chunked(small.subarray(0, small.length >> 1), 65536)).finally(
      () => delete process.env.GRAPHDRIVER_GZIP,
    );
    await new Promise((r) => setTimeout(r, 200));
    await expect(collect(stream)).rejects.toMatchObject({ code: 'Z_BUF_ERROR' });
    const bad = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 0xee)]);
    const z = await decompressAuto(chunked(bad, 7));
    await new Promise((r) => setTimeout(r, 200));
    await expect(collect(z.stream)).rejects.toMatchObject({ code: 'ERR_INVALID_ARCHIVE' });
  });

  it.skipIf(!hasZstd)('reports corrupt or truncated zstd as an invalid archive', async () => {
    const z = execFileSync('zstd', ['-q', '-c'], { input: data, maxBuffer: 64 << 20 });
    const truncated = z.subarray(0, z.length - 100);
    await expect(collect(chunked(truncated, 4096).pipe(createZstdDecompress()))).rejects.toMatchObject({ code: 'ERR_INVALID_ARCHIVE' });
    const garbage = Buffer.concat([z.subarray(0, 8), Buffer.alloc(4096, 0xee)]);
    await expect(collect(chunked(garbage, 4096).pipe(createZstdDecompress()))).rejects.toMatchObject({ code: 'ERR_INVALID_ARCHIVE' });
  });

  for (const inflater of ['igzip', 'unpigz', 'zlib']) {
    it(`inflates gzip with ${inflater} (GRAPHDRIVER_GZIP=${inflater}), and reports corrupt data as an invalid archive`, async () => {
      process.env.GRAPHDRIVER_GZIP = inflater;
      try {
        const gz = execFileSync('gzip', ['-c'], { input: data, maxBuffer: 64 << 20 });
        const ok = await decompressAuto(chunked(gz, 65536));
        expect(sha(await collect(ok.stream))).toBe(sha(data));
        const truncated = await decompressAuto(chunked(gz.subarray(0, gz.length >> 1), 65536));
        const err = await collect(truncated.stream).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, 'truncated gzip').toBeDefined();
        if (inflater !== 'zlib') expect(err).toMatchObject({ code: 'ERR_INVALID_ARCHIVE' });
      } finally {
        delete process.env.GRAPHDRIVER_GZIP;
      }
    });
  }
});
