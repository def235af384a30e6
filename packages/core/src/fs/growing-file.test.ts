// GrowingFile: a file read right behind a real writer process (sh appending with pauses).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directSource } from './direct-source.js';
import { GrowingFile } from './growing-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'gd-growing-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A file that `sh` appends `pieces` pieces of `size` bytes to, pausing between them, and
 * the writer's end (rejects when it exits non-zero).
 */
function writer(name: string, pieces: number, size: number, exitCode = 0): { fd: number; finished: Promise<void> } {
  const path = join(dir, name);
  const wfd = fs.openSync(path, 'w');
  const fd = fs.openSync(path, 'r');
  const script = `for i in $(seq ${pieces}); do head -c ${size} /dev/zero | tr '\\0' "$((i % 10))"; sleep 0.02; done; exit ${exitCode}`;
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', wfd, 'inherit'] });
  fs.closeSync(wfd);
  const finished = new Promise<void>((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`)))),
  );
  return { fd, finished };
}

/** What the writer above writes. */
const expected = (pieces: number, size: number) =>
  Buffer.concat(Array.from({ length: pieces }, (_, k) => Buffer.alloc(size, String((k + 1) % 10))));

async function readAll(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('GrowingFile', () => {
  it('reads every byte as the writer appends them, waiting at the end until it has finished', async () => {
    const { fd, finished } = writer('a', 12, 300_000);
    const seen = createHash('sha256');
    const g = new GrowingFile(fd, finished, { onChunk: (c) => seen.update(c) });
    const got = await readAll(g);
    g.close();
    const want = expected(12, 300_000);
    expect(got.equals(want)).toBe(true);
    expect(g.bytesRead).toBe(want.length);
    expect(seen.digest('hex')).toBe(createHash('sha256').update(want).digest('hex'));
  });

  it("fails with the writer's failure", async () => {
    const { fd, finished } = writer('b', 3, 1000, 3);
    const g = new GrowingFile(fd, finished);
    await expect(readAll(g)).rejects.toThrow('writer exited 3');
    g.close();
  });

  it('goes on where an earlier reader stopped, and onChunk sees each byte once', async () => {
    const { fd, finished } = writer('c', 6, 400_000);
    let observed = 0;
    const g = new GrowingFile(fd, finished, { onChunk: (c) => (observed += c.length) });
    const first: Buffer[] = [];
    for await (const c of g.chunks({ chunkSize: 100_000 })) {
      first.push(c);
      if (first.length === 3) break;
    }
    const rest = await readAll(g.chunks({ reuse: 1 }));
    g.close();
    const got = Buffer.concat([...first, rest]);
    expect(got.equals(expected(6, 400_000))).toBe(true);
    expect(observed).toBe(got.length);
  });

  it('hands applyLayer (directSource) its chunks in reused buffers', async () => {
    const { fd, finished } = writer('d', 4, 1 << 20);
    const g = new GrowingFile(fd, finished);
    const buffers = new Set<ArrayBufferLike>();
    let bytes = 0;
    for await (const c of directSource(g)) {
      buffers.add(c.buffer);
      bytes += c.length;
    }
    g.close();
    expect(bytes).toBe(4 << 20);
    // the reads went into a few pooled buffers (fs/file-chunks.ts READ_POOL), not one each
    expect(buffers.size).toBeLessThanOrEqual(4);
    expect(buffers.size).toBeGreaterThan(0);
  });

  it('close is idempotent and closes the descriptor', async () => {
    const { fd, finished } = writer('e', 1, 10);
    await finished;
    const g = new GrowingFile(fd, finished);
    expect((await readAll(g)).length).toBe(10);
    g.close();
    g.close();
    expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});
