// The diff stream guard: piped untouched into a file it hands the pipe on to the tar inside
// (so the file writer's reused chunks are used), read any other way it passes chunks on;
// either way the same bytes, the end no earlier than the next second (unless told not to
// wait), one release.
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarDirectory, tarDirectoryToFile } from './export.js';
import { guardDiffStream } from './stream-guard.js';

let dir = '';
let src = '';
let expected: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gd-guard-'));
  src = join(dir, 'src');
  fs.mkdirSync(join(src, 'd'), { recursive: true });
  for (let i = 0; i < 6; i++) fs.writeFileSync(join(src, 'd', `f${i}`), Buffer.alloc(600_000 + i, i));
  fs.writeFileSync(join(src, 'small'), 'x');
  await tarDirectoryToFile(src, join(dir, 'expected.tar'));
  expected = fs.readFileSync(join(dir, 'expected.tar'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A guarded tar of `src` that records how it was consumed. */
function guarded(waitNextSecond = true) {
  const seen = { releases: 0, innerPipedTo: undefined as unknown, releasedBeforeEnd: false };
  const inner = tarDirectory(src);
  const pipe = inner.pipe.bind(inner);
  inner.pipe = ((dest: NodeJS.WritableStream, opts?: { end?: boolean }) => {
    seen.innerPipedTo = dest;
    return pipe(dest, opts);
  }) as Readable['pipe'];
  const started = Date.now();
  const out = guardDiffStream(
    inner,
    started,
    () => {
      seen.releases++;
    },
    undefined,
    waitNextSecond,
  );
  out.once('end', () => {
    seen.releasedBeforeEnd = seen.releases === 1;
  });
  return { out, seen, nextSecond: Math.floor(started / 1000) * 1000 + 1000 };
}

describe('guardDiffStream', () => {
  it('with waitNextSecond false, ends with the tar (an export or push), same bytes, one release', async () => {
    // started just after a second begins, a tar of a few MB ends well within it unless the
    // guard waits; a machine that stalls a whole second gets two more tries
    let endedWithinTheSecond = false;
    for (let attempt = 0; attempt < 3 && !endedWithinTheSecond; attempt++) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      const { out, seen, nextSecond } = guarded(false);
      const file = join(dir, 'nowait.tar');
      await pipeline(out, fs.createWriteStream(file));
      endedWithinTheSecond = Date.now() < nextSecond;
      expect(fs.readFileSync(file).equals(expected)).toBe(true);
      expect(seen).toMatchObject({ releases: 1, releasedBeforeEnd: true });
    }
    expect(endedWithinTheSecond).toBe(true);
  });

  it('piped untouched into an fs.WriteStream: the tar itself writes the file, same bytes, one release, not before the next second', async () => {
    const { out, seen, nextSecond } = guarded();
    const file = join(dir, 'piped.tar');
    const ws = fs.createWriteStream(file);
    await pipeline(out, ws);
    expect(Date.now()).toBeGreaterThanOrEqual(nextSecond);
    expect(seen.innerPipedTo).toBe(ws);
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
    expect(ws.bytesWritten).toBe(expected.length);
    expect(seen).toMatchObject({ releases: 1, releasedBeforeEnd: true });
  });

  it('read as a stream (for await, or piped elsewhere): the same bytes, one release', async () => {
    const { out, seen, nextSecond } = guarded();
    const parts: Buffer[] = [];
    for await (const c of out) parts.push(c as Buffer);
    expect(Date.now()).toBeGreaterThanOrEqual(nextSecond);
    expect(seen.innerPipedTo).toBeUndefined();
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    expect(seen).toMatchObject({ releases: 1, releasedBeforeEnd: true });
  });

  it('a file that fails (a full disk) fails the pipeline and releases once', async () => {
    const { out, seen } = guarded();
    await expect(pipeline(out, fs.createWriteStream('/dev/full'))).rejects.toMatchObject({ code: 'ENOSPC' });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.releases).toBe(1);
  });
});
