// A layer's blob through files (the compressor reading the tar from an unlinked file and
// writing into another read behind it) and through pipes: the same bytes and tar digest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { missingPrograms, requireBackingSystem } from '@graphdriver/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLayerBlob } from './layer-blob.js';

const haveCompressors = requireBackingSystem('the layer blob tests', missingPrograms(['igzip', 'pigz']));

/** Compressible but not trivial bytes, standing in for a tar. */
const tar = Buffer.alloc(12 << 20);
for (let i = 0; i < tar.length; i++) tar[i] = (i * 7 + (i >> 9)) & 0xff;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const chunked = () =>
  Readable.from(
    (function* () {
      for (let i = 0; i < tar.length; i += 65536) yield tar.subarray(i, i + 65536);
    })(),
  );

async function blob(fileDir: string | undefined, extra: Partial<Parameters<typeof writeLayerBlob>[2]> = {}) {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (c: Buffer) => parts.push(c));
  let bytes = 0;
  const digest = await writeLayerBlob(chunked(), out, {
    kind: 'gzip',
    time: 1_700_000_000,
    fileDir,
    onBytes: (n) => (bytes += n),
    ...extra,
  });
  return { digest, blob: Buffer.concat(parts), bytes };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'gd-layer-blob-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!haveCompressors)('writeLayerBlob', () => {
  for (const compressor of ['igzip', 'pigz', 'zlib']) {
    it(`through files or pipes (${compressor}): the same blob, the tar's digest, every byte counted, no file left`, async () => {
      process.env.GRAPHDRIVER_GZIP = compressor;
      try {
        const files = await blob(join(dir, compressor));
        const pipes = await blob(undefined);
        expect(files.digest).toBe(sha(tar));
        expect(pipes.digest).toBe(sha(tar));
        expect(sha(files.blob)).toBe(sha(pipes.blob));
        expect(gunzipSync(files.blob).equals(tar)).toBe(true);
        // the header carries the layer's time (stampGzipTime)
        expect(files.blob.readUInt32LE(4)).toBe(1_700_000_000);
        expect(files.bytes).toBe(tar.length);
        expect(await readdir(join(dir, compressor))).toEqual([]);
      } finally {
        delete process.env.GRAPHDRIVER_GZIP;
      }
    });
  }

  it("a tar that fails halfway fails the blob with the tar's error, and leaves no file", async () => {
    const failing = new Readable({ read() {} });
    failing.push(tar.subarray(0, 1 << 20));
    setTimeout(() => failing.destroy(new Error('disk went away')), 30);
    const out = new PassThrough().resume();
    await expect(writeLayerBlob(failing, out, { kind: 'gzip', time: 0, fileDir: join(dir, 'failing') })).rejects.toThrow('disk went away');
    expect(await readdir(join(dir, 'failing'))).toEqual([]);
    // the same with zstd, where the zstd tool is installed
    if (missingPrograms(['zstd']).length === 0) {
      const z = await writeLayerBlob(chunked(), new PassThrough().resume(), { kind: 'zstd', time: 0, fileDir: join(dir, 'zstd') });
      expect(z).toBe(sha(tar));
      expect(execFileSync('ls', [join(dir, 'zstd')], { encoding: 'utf8' })).toBe('');
    }
  });
});
