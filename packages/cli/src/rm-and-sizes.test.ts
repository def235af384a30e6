// `rm` with several ids and -f, and sizes that are recorded rather than walked: `ls` and
// `info` report what was recorded when a layer was applied or last unmounted, even after
// its files changed behind the store's back (`size` still measures).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, runCli, runJson } from './test-support/run-cli.js';

let work: string;
let root: string;
const g = () => ['--root', root, '--driver', 'vfs'];

interface Listed {
  id: string;
  size: number | null;
  mounts: number;
}
const ls = () => runJson<Listed[]>([...g(), 'ls']);
const ok = async (...args: string[]) => {
  const r = await runCli([...g(), ...args]);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
};

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'gd-rm-sizes-'));
  root = join(work, 'root');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('graphdriver rm', () => {
  it('removes several layers in one go, children before their parents whatever the order given', async () => {
    await ok('create', 'p');
    await ok('create', 'c', '--parent', 'p');
    await ok('create', 'gc', '--parent', 'c');
    await ok('create', 'x');
    expect(await ok('rm', 'p', 'x', 'gc', 'c')).toBe('gc\nc\np\nx');
    expect(await ls()).toEqual([]);
  });

  it('a mounted layer is refused without -f (the others still go), and removed with its references by -f', async () => {
    await ok('create', 'm');
    await ok('create', 'free');
    await ok('mount', 'm');
    await ok('mount', 'm');
    const r = await runCli([...g(), 'rm', 'm', 'free']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^graphdriver: ERR_LAYER_BUSY: layer m is busy: it is mounted \(2 references/),
    ]);
    expect((await ls()).map((l) => [l.id, l.mounts])).toEqual([['m', 2]]);
    expect(await ok('rm', '-f', 'm')).toBe('m');
    expect(await ls()).toEqual([]);
    expect(existsSync(join(root, 'vfs', 'dir', 'm'))).toBe(false);
  });
});

describe('recorded sizes', () => {
  it('ls reports the size recorded at apply and at the last unmount, not what a walk would find now', async () => {
    const src = join(work, 'src');
    await mkdir(src);
    await writeFile(join(src, 'a'), Buffer.alloc(3000, 1));
    execFileSync('tar', ['--numeric-owner', '-cf', join(work, 'l.tar'), '-C', src, '.']);
    await ok('create', 'base');
    expect((await ls()).map((l) => [l.id, l.size])).toEqual([['base', 0]]);
    await ok('apply', 'base', join(work, 'l.tar'));
    await ok('create', 'rw', '--rw', '--parent', 'base');
    const dir = await ok('-q', 'mount', 'rw');
    await writeFile(join(dir, 'b'), Buffer.alloc(5000, 2));
    await ok('unmount', 'rw');
    expect((await ls()).map((l) => [l.id, l.size])).toEqual([
      ['base', 3000],
      ['rw', 5000],
    ]);
    // behind the store's back: ls and info keep the recorded size; size measures
    await writeFile(join(root, 'vfs', 'dir', 'rw', 'c'), Buffer.alloc(7000, 3));
    await writeFile(join(root, 'vfs', 'dir', 'base', 'a'), Buffer.alloc(9, 3));
    expect((await ls()).map((l) => [l.id, l.size])).toEqual([
      ['base', 3000],
      ['rw', 5000],
    ]);
    expect(await runJson<{ size: number }>([...g(), 'info', 'rw'])).toMatchObject({ size: 5000 });
    // a walk sees b, c, and a (3000 bytes) now differing from the parent's
    expect(await ok('-q', 'size', 'rw')).toBe('15000');
  });
});
