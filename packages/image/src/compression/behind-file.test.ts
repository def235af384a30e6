// gzip inflated and compressed by the real igzip, unpigz and pigz into an unlinked file, read
// behind them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { missingPrograms, requireBackingSystem } from '@graphdriver/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepBehindFiles } from './behind-file.js';
import { compressBehind, createCompressor } from './compress.js';
import { inflateBehind } from './decompress.js';

const haveInflaters = requireBackingSystem('the inflate-behind tests', missingPrograms(['igzip', 'unpigz', 'pigz', 'gzip']));

/** Compressible but not trivial bytes. */
function sample(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 7 + (i >> 9)) & 0xff;
  return out;
}
const data = sample(24 << 20);
const gz = execFileSync('gzip', ['-c'], { input: data, maxBuffer: 64 << 20 });
async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stream handing out `bytes` in 64 KiB chunks. */
const chunked = (bytes: Buffer) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
    })(),
  );

/** This process's descriptors open on an inflate file (unlinked: "… (deleted)"). */
const openBehindFiles = () =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ''; // closed in between (the readdir's own descriptor)
      }
    })
    .filter((target) => target.includes('/behind-'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'gd-inflate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withInflater<T>(inflater: string, fn: () => Promise<T>): Promise<T> {
  process.env.GRAPHDRIVER_GZIP = inflater;
  try {
    return await fn();
  } finally {
    delete process.env.GRAPHDRIVER_GZIP;
  }
}

describe.skipIf(!haveInflaters)('inflateBehind', () => {
  for (const inflater of ['igzip', 'unpigz']) {
    it(`inflates with ${inflater} into a file already unlinked, every byte seen once`, async () => {
      await withInflater(inflater, async () => {
        const seen = createHash('sha256');
        const behind = await inflateBehind(chunked(gz), join(dir, inflater), { onChunk: (c: Buffer) => seen.update(c) });
        expect(behind).toBeDefined();
        expect(openBehindFiles()).toHaveLength(1);
        // nothing to clean up, whatever happens from here on
        expect(await readdir(join(dir, inflater))).toEqual([]);
        const parts: Buffer[] = [];
        for await (const c of behind!.file) parts.push(c);
        behind!.stop();
        expect(sha(Buffer.concat(parts))).toBe(sha(data));
        expect(seen.digest('hex')).toBe(sha(data));
        expect(openBehindFiles()).toEqual([]);
      });
    });

    it(`reports truncated gzip as an invalid archive (${inflater}), and the input's own error as itself`, async () => {
      await withInflater(inflater, async () => {
        const cut = await inflateBehind(chunked(gz.subarray(0, gz.length >> 1)), join(dir, 'cut'));
        const drain = async () => {
          for await (const _ of cut!.file) {
            // read to the failure
          }
        };
        await expect(drain()).rejects.toMatchObject({ code: 'ERR_INVALID_ARCHIVE', message: expect.stringContaining('invalid gzip data') });
        cut!.stop();

        const failing = new Readable({ read() {} });
        failing.push(gz.subarray(0, 1 << 20));
        const broken = await inflateBehind(failing, join(dir, 'broken'));
        setTimeout(() => failing.destroy(new Error('connection reset')), 50);
        const drainBroken = async () => {
          for await (const _ of broken!.file) {
            // read to the failure
          }
        };
        await expect(drainBroken()).rejects.toThrow('connection reset');
        broken!.stop();
      });
    });
  }

  it('stops the program and closes the file when stopped halfway', async () => {
    const behind = await inflateBehind(chunked(gz), join(dir, 'stopped'));
    for await (const _ of behind!.file) break;
    behind!.stop();
    expect(openBehindFiles()).toEqual([]);
  });

  it('leaves gzip to zlib (undefined) when GRAPHDRIVER_GZIP=zlib', async () => {
    await withInflater('zlib', async () => {
      expect(await inflateBehind(chunked(gz), join(dir, 'zlib'))).toBeUndefined();
    });
  });
});

describe.skipIf(!haveInflaters)('compressBehind', () => {
  for (const compressor of ['igzip', 'pigz']) {
    it(`gives the bytes createCompressor gives (${compressor}), so an export's digests do not depend on the path`, async () => {
      await withInflater(compressor, async () => {
        const behind = await compressBehind('gzip', chunked(data), join(dir, `c-${compressor}`));
        expect(behind).toBeDefined();
        const parts: Buffer[] = [];
        for await (const c of behind!.file) parts.push(c);
        behind!.stop();
        const viaFile = Buffer.concat(parts);
        const viaPipe = await collect(chunked(data).pipe(await createCompressor('gzip')));
        expect(sha(viaFile)).toBe(sha(viaPipe));
        expect(sha(gunzipSync(viaFile))).toBe(sha(data));
        expect(openBehindFiles()).toEqual([]);
      });
    });
  }

  it('leaves gzip to zlib (undefined) when GRAPHDRIVER_GZIP=zlib', async () => {
    await withInflater('zlib', async () => {
      expect(await compressBehind('gzip', chunked(data), join(dir, 'c-zlib'))).toBeUndefined();
    });
  });
});

describe('sweepBehindFiles', () => {
  it("removes what a killed process left over a minute ago, not another import's new file", async () => {
    const d = join(dir, 'sweep');
    await rm(d, { recursive: true, force: true });
    await mkdir(d);
    await writeFile(join(d, 'behind-old'), 'x');
    const past = new Date(Date.now() - 120_000);
    await utimes(join(d, 'behind-old'), past, past);
    await writeFile(join(d, 'behind-new'), 'x');
    await writeFile(join(d, 'other'), 'x');
    await utimes(join(d, 'other'), past, past);
    await sweepBehindFiles(d);
    expect((await readdir(d)).sort()).toEqual(['behind-new', 'other']);
    await sweepBehindFiles(join(dir, 'missing'));
  });
});
