import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_CHUNK, fileChunks, untouchedReadStream } from './file-chunks.js';
import { directSource } from './direct-source.js';

let dir = '';
let file = '';
const data = Buffer.alloc(FILE_CHUNK * 2 + 12345);
for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gd-file-chunks-'));
  file = join(dir, 'f');
  fs.writeFileSync(file, data);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function all(src: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(Buffer.from(c));
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

describe('directSource', () => {
  it('reads the file behind an untouched ReadStream in 1 MiB chunks and destroys the stream', async () => {
    const s = fs.createReadStream(file); // default 64 KiB chunks
    const src = directSource(s);
    expect(src).not.toBe(s);
    const { bytes, chunks } = await all(src);
    expect(bytes.equals(data)).toBe(true);
    expect(chunks).toBe(3);
    expect(s.destroyed).toBe(true);
  });

  it("keeps the stream's byte range (start, end inclusive)", async () => {
    const s = fs.createReadStream(file, { start: 1000, end: FILE_CHUNK + 5000 });
    const { bytes } = await all(directSource(s));
    expect(bytes.equals(data.subarray(1000, FILE_CHUNK + 5001))).toBe(true);
  });

  it('leaves a stream already read from, or with an encoding, or opened by fd, as it is', async () => {
    const read = fs.createReadStream(file);
    await new Promise<void>((r) => read.once('readable', () => r()));
    read.read(10);
    expect(untouchedReadStream(read)).toBeUndefined();
    expect(directSource(read)).toBe(read);
    read.destroy();
    const enc = fs.createReadStream(file, { encoding: 'latin1' });
    expect(untouchedReadStream(enc)).toBeUndefined();
    enc.destroy();
    const fd = fs.openSync(file, 'r');
    const byFd = fs.createReadStream('', { fd });
    expect(untouchedReadStream(byFd)).toBeUndefined();
    byFd.destroy();
  });

  it('reuses `reuse` buffers in turn when asked (a chunk is valid until the next is pulled)', async () => {
    const seen: Buffer[] = [];
    const parts: Buffer[] = [];
    for await (const c of fileChunks(file, 0, Infinity, { chunkSize: 4096, reuse: 2 })) {
      seen.push(c);
      parts.push(Buffer.from(c));
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(new Set(seen.map((c) => c.buffer)).size).toBe(2);
  });

  it('fails like the stream would on a missing file', async () => {
    await expect(all(fileChunks(join(dir, 'missing')))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
