import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeKind } from '../driver.js';
import { blankWhiteoutTimes } from '../testing/whiteout-times.js';
import { changesDirs } from './changes.js';
import { exportChanges, exportChangesToFile, tarDirectory, tarDirectoryToFile } from './export.js';
import { CHUNK_SIZE } from './tar-assembler.js';
import { FILE_WRITER_CHUNKS } from './tar-output.js';
import { dir, file, isRoot, mustRun, rmrf, settle, symlink, tmp } from '../test-support/trees.js';

let work: string;
beforeEach(() => {
  work = tmp('gd-tar-output-');
});
afterEach(() => {
  if (isRoot) mustRun('sh', ['-c', `umount -l ${work}/full 2>/dev/null || true`]);
  rmrf(work);
});

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A tree with every kind of body: empty, small, thread-pool sized, several chunks long. */
function bigTree(root: string): void {
  file(root, 'a/empty', '');
  file(root, 'a/small', 'small');
  for (let i = 0; i < 30; i++) file(root, `b/mid${i}`, randomBytes(70_000 + i * 997));
  file(root, 'c/huge', randomBytes(3 * CHUNK_SIZE * FILE_WRITER_CHUNKS + 4321));
  linkSync(join(root, 'a/small'), join(root, 'd-link'));
  symlink(root, 'e', 'a/small');
  dir(root, 'f/empty');
  settle(root);
}

/** Where two archives first differ (block and offset), for a failure worth reading. */
function sameBytes(got: Buffer, want: Buffer): string {
  if (got.equals(want)) return 'same';
  let i = 0;
  while (i < Math.min(got.length, want.length) && got[i] === want[i]) i++;
  return `${got.length} vs ${want.length} bytes, first difference at ${i} (block ${Math.floor(i / 512)} + ${i % 512})`;
}

const fdCount = () => readdirSync('/proc/self/fd').length;
const leftovers = (d: string) => readdirSync(d).filter((n) => n.endsWith('.tmp'));

describe('tarDirectoryToFile / exportChangesToFile', () => {
  it('write the same bytes as the streams, and resolve to their length', async () => {
    const root = join(work, 'tree');
    bigTree(root);
    const out = join(work, 'out.tar');
    const n = await tarDirectoryToFile(root, out);
    const want = await bytesOf(tarDirectory(root));
    expect(sameBytes(readFileSync(out), want)).toBe('same');
    expect(n).toBe(want.length);

    const base = join(work, 'base');
    file(base, 'a/small', 'old');
    file(base, 'gone', 'x');
    settle(base);
    const changes = await changesDirs(root, base);
    const diffOut = join(work, 'diff.tar');
    const m = await exportChangesToFile(root, changes, diffOut);
    const wantDiff = await bytesOf(exportChanges(root, changes));
    // (whiteouts carry the time of the export, which can be a second apart)
    expect(sameBytes(blankWhiteoutTimes(readFileSync(diffOut)), blankWhiteoutTimes(wantDiff))).toBe('same');
    expect(m).toBe(wantDiff.length);
    expect(leftovers(work)).toEqual([]);
  });

  it('carry a tree many chunks long with the same dozen buffers', async () => {
    const root = join(work, 'tree');
    bigTree(root);
    const allocUnsafeSlow = Buffer.allocUnsafeSlow;
    let chunks = 0;
    Buffer.allocUnsafeSlow = (size: number) => {
      if (size === CHUNK_SIZE) chunks++;
      return allocUnsafeSlow(size);
    };
    let n: number;
    try {
      n = await tarDirectoryToFile(root, join(work, 'out.tar'));
    } finally {
      Buffer.allocUnsafeSlow = allocUnsafeSlow;
    }
    expect(n / CHUNK_SIZE).toBeGreaterThan(3 * FILE_WRITER_CHUNKS);
    expect(chunks).toBeGreaterThan(0);
    expect(chunks).toBeLessThanOrEqual(FILE_WRITER_CHUNKS);
  });

  it('write to a descriptor from its offset and leave it open', async () => {
    const root = join(work, 'tree');
    file(root, 'x', 'payload');
    settle(root);
    const out = join(work, 'out');
    const fd = openSync(out, 'w');
    try {
      writeSync(fd, 'HEAD');
      const n = await tarDirectoryToFile(root, fd);
      writeSync(fd, 'TAIL'); // still open, at the archive's end
      const got = readFileSync(out);
      expect(got.length).toBe(4 + n + 4);
      expect(got.subarray(4, 4 + n).equals(await bytesOf(tarDirectory(root)))).toBe(true);
      expect(got.subarray(4 + n).toString()).toBe('TAIL');
    } finally {
      closeSync(fd);
    }
  });

  it('leave an existing file as it was when the archive fails, with no temporary file behind', async () => {
    const out = join(work, 'out.tar');
    writeFileSync(out, 'previous layer');
    const before = fdCount();
    await expect(tarDirectoryToFile(join(work, 'missing'), out)).rejects.toMatchObject({ code: 'ENOENT' });
    const root = join(work, 'tree');
    file(root, 'x', '1');
    await expect(exportChangesToFile(root, [{ path: '/../etc/passwd', kind: ChangeKind.Add }], out)).rejects.toMatchObject({
      code: 'ERR_UNSAFE_ENTRY',
    });
    expect(readFileSync(out, 'utf8')).toBe('previous layer');
    expect(leftovers(work)).toEqual([]);
    expect(fdCount()).toBe(before);
  });

  it('replace an existing file whole once complete, as a new file', async () => {
    const root = join(work, 'tree');
    file(root, 'x', '1');
    const out = join(work, 'out.tar');
    writeFileSync(out, 'previous layer', { mode: 0o600 });
    const oldIno = statSync(out).ino;
    await tarDirectoryToFile(root, out);
    expect(statSync(out).ino).not.toBe(oldIno); // renamed over, never truncated in place
    expect(sameBytes(readFileSync(out), await bytesOf(tarDirectory(root)))).toBe('same');
  });

  it('write into a path that is not a regular file as it is, and refuse a directory', async () => {
    const root = join(work, 'tree');
    file(root, 'x', randomBytes(200_000));
    settle(root);
    const size = (await bytesOf(tarDirectory(root))).length;
    expect(await tarDirectoryToFile(root, '/dev/null')).toBe(size);
    const target = join(work, 'target.tar');
    symlink(work, 'via-link', target);
    expect(await tarDirectoryToFile(root, join(work, 'via-link'))).toBe(size);
    expect(statSync(target).size).toBe(size); // written through the link
    const d = dir(work, 'adir');
    await expect(tarDirectoryToFile(root, d)).rejects.toMatchObject({ code: 'EISDIR' });
    expect(readdirSync(d)).toEqual([]);
  });

  describe.runIf(isRoot)('as root', () => {
    it('reports a full file system, removes its temporary file and closes every descriptor', async () => {
      const root = join(work, 'tree');
      for (let i = 0; i < 8; i++) file(root, `f${i}`, randomBytes(300_000));
      const full = dir(work, 'full');
      mustRun('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full]);
      writeFileSync(join(full, 'keep.tar'), 'previous');
      const before = fdCount();
      await expect(tarDirectoryToFile(root, join(full, 'keep.tar'))).rejects.toMatchObject({ code: 'ENOSPC' });
      await new Promise((r) => setTimeout(r, 50)); // reads in flight close their files
      expect(fdCount()).toBe(before);
      expect(readdirSync(full)).toEqual(['keep.tar']);
      expect(readFileSync(join(full, 'keep.tar'), 'utf8')).toBe('previous');
    });
  });
});

describe('a tar Readable piped into a file stream', () => {
  it('writes the same bytes as the file API and as reading the Readable', async () => {
    const root = join(work, 'tree');
    bigTree(root);
    const viaFile = join(work, 'file.tar');
    await tarDirectoryToFile(root, viaFile);
    const read = await bytesOf(tarDirectory(root));
    const piped = join(work, 'piped.tar');
    const { pipeline } = await import('node:stream/promises');
    const { createWriteStream } = await import('node:fs');
    await pipeline(tarDirectory(root), createWriteStream(piped));
    expect(readFileSync(piped).equals(readFileSync(viaFile))).toBe(true);
    expect(read.equals(readFileSync(viaFile))).toBe(true);
    // .pipe() with end: false leaves the stream open for more
    const ws = createWriteStream(join(work, 'twice.tar'));
    const first = tarDirectory(root).pipe(ws, { end: false });
    expect(first).toBe(ws);
    await new Promise((r) => setTimeout(r, 0));
    dir(work, 'nothing-here');
    const changes = await changesDirs(root, join(work, 'nothing-here'));
    const diffOut = join(work, 'export-piped.tar');
    await pipeline(exportChanges(root, changes), createWriteStream(diffOut));
    const diffFile = join(work, 'export-file.tar');
    await exportChangesToFile(root, changes, diffFile);
    expect(blankWhiteoutTimes(readFileSync(diffOut)).equals(blankWhiteoutTimes(readFileSync(diffFile)))).toBe(true);
    ws.destroy();
  });

  it('fails the pipeline when the tree cannot be read, and the file stream with it', async () => {
    const { pipeline } = await import('node:stream/promises');
    const { createWriteStream } = await import('node:fs');
    const root = join(work, 'tree2');
    file(root, 'a', 'x');
    settle(root);
    const ws = createWriteStream(join(work, 'bad.tar'));
    await expect(pipeline(tarDirectory(join(work, 'no-such-dir')), ws)).rejects.toThrow();
    expect(ws.destroyed).toBe(true);
  });
});
