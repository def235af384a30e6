// gzip inflated by the real igzip and unpigz into an unlinked file, read behind them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { missingPrograms, requireBackingSystem } from '@graphdriver/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inflateBehind, sweepInflateFiles } from './inflate-behind.js';

const haveInflaters = requireBackingSystem('the inflate-behind tests', missingPrograms(['igzip', 'unpigz', 'gzip']));

/** Compressible but not trivial bytes. */
function sample(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 7 + (i >> 9)) & 0xff;
  return out;
}
const data = sample(24 << 20);
const gz = execFileSync('gzip', ['-c'], { input: data, maxBuffer: 64 << 20 });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stream handing out `bytes` in 64 KiB chunks. */
const chunked = (bytes: Buffer) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
    })(),
  );

/** This process's descriptors open on an inflate file (unlinked: "… (deleted)"). */
const openInflateFiles = () =>
  readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ''; // closed in between (the readdir's own descriptor)
      }
    })
    .filter((target) => target.includes('/inflating-'));

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
        const behind = await inflateBehind(chunked(gz), join(dir, inflater), { onChunk: (c) => seen.update(c) });
        expect(behind).toBeDefined();
        expect(openInflateFiles()).toHaveLength(1);
        // nothing to clean up, whatever happens from here on
        expect(await readdir(join(dir, inflater))).toEqual([]);
        const parts: Buffer[] = [];
        for await (const c of behind!.file) parts.push(c);
        behind!.stop();
        expect(sha(Buffer.concat(parts))).toBe(sha(data));
        expect(seen.digest('hex')).toBe(sha(data));
        expect(openInflateFiles()).toEqual([]);
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
    expect(openInflateFiles()).toEqual([]);
  });

  it('leaves gzip to zlib (undefined) when GRAPHDRIVER_GZIP=zlib', async () => {
    await withInflater('zlib', async () => {
      expect(await inflateBehind(chunked(gz), join(dir, 'zlib'))).toBeUndefined();
    });
  });
});

describe('sweepInflateFiles', () => {
  it("removes what a killed process left over a minute ago, not another import's new file", async () => {
    const d = join(dir, 'sweep');
    await rm(d, { recursive: true, force: true });
    await mkdir(d);
    await writeFile(join(d, 'inflating-old'), 'x');
    const past = new Date(Date.now() - 120_000);
    await utimes(join(d, 'inflating-old'), past, past);
    await writeFile(join(d, 'inflating-new'), 'x');
    await writeFile(join(d, 'other'), 'x');
    await utimes(join(d, 'other'), past, past);
    await sweepInflateFiles(d);
    expect((await readdir(d)).sort()).toEqual(['inflating-new', 'other']);
    await sweepInflateFiles(join(dir, 'missing'));
  });
});
