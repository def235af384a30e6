import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs } from './make-dirs.js';

describe('makeDirs', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gd-mkdirs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('makes missing parents with the mode and accepts an existing directory', async () => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDirs(deep, 0o710);
    expect((await stat(deep)).mode & 0o777).toBe(0o710 & ~process.umask());
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o710 & ~process.umask());
    await expect(makeDirs(deep, 0o700)).resolves.toBeUndefined();
  });

  it('refuses a path below a file', async () => {
    await writeFile(join(dir, 'file'), '');
    await expect(makeDirs(join(dir, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirs(join(dir, 'file', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  // Node's recursive mkdir never returns here (procfs answers ENOENT below /proc).
  it('ends with ENOENT where the kernel cannot make the directory', async () => {
    await expect(makeDirs('/proc/graphdriver-nope/x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
