// What is particular to vfs: exact copies (nanosecond times, sockets), reflinks on btrfs,
// the home layout, atomic create under a crash, recovery, options, registry, status.
import { spawn } from 'node:child_process';
import { link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDriver, type Driver } from '@graphdriver/core';
import {
  buildTree,
  compareTrees,
  randomContent,
  removeTree,
  setTimesNs,
  snapshotTree,
  withLayer,
  useLoopbackFs,
} from '@graphdriver/core/testing';
import { tool } from '@graphdriver/core';
import { init, name } from './index.js';
import { parseVfsOptions } from './options.js';
import { packageDir } from './test-support/child-vitest.js';

let work = '';
beforeAll(async () => {
  work = await mkdtemp('/var/tmp/gd-vfs-test-');
});
afterAll(async () => {
  if (work) await removeTree(work);
});

async function withDriver(fn: (d: Driver, home: string) => Promise<void>, options: string[] = [], base?: string): Promise<void> {
  const home = await mkdtemp(join(base ?? work, 'home-'));
  const d = await init(home, options);
  try {
    await fn(d, home);
  } finally {
    await d.cleanup();
    await removeTree(home);
  }
}

const T = 1_600_000_000_000_000_000n; // 2020-09-13T12:26:40Z

describe('exact copies', () => {
  it('keeps nanosecond mtimes and atimes of files, directories and symlinks', async () => {
    await withDriver(async (d) => {
      await d.create('base', null);
      await withLayer(d, 'base', async (root) => {
        await buildTree(root, [
          { type: 'file', path: 'dir/f', content: 'x', mtimeNs: T + 123_456_789n },
          { type: 'symlink', path: 'dir/l', target: 'f', mtimeNs: T + 987_654_321n },
          { type: 'dir', path: 'dir', mtimeNs: T + 1n },
          { type: 'file', path: 'odd', content: 'y', mtimeNs: T + 999_999_999n },
        ]);
        await setTimesNs(join(root, 'odd'), T + 999_999_999n, T - 555_555_555n);
      });
      await d.create('child', 'base');
      // before anything reads the file (relatime would move its atime)
      await withLayer(d, 'child', async (r) => {
        expect((await lstat(join(r, 'odd'), { bigint: true })).atimeNs).toBe(T - 555_555_555n);
      });
      const base = await withLayer(d, 'base', (r) => snapshotTree(r));
      const child = await withLayer(d, 'child', (r) => snapshotTree(r));
      expect(compareTrees(base, child, { mtime: 'ns' })).toEqual([]);
      expect(child.get('/dir/f')!.mtimeNs).toBe(T + 123_456_789n);
      expect(child.get('/dir/l')!.mtimeNs).toBe(T + 987_654_321n);
      expect(child.get('/dir')!.mtimeNs).toBe(T + 1n);
      expect(await d.changes('child', 'base')).toEqual([]);
    });
  });

  it('copies sockets and FIFOs as what they are', async () => {
    await withDriver(async (d) => {
      await d.create('base', null);
      await withLayer(d, 'base', async (root) => {
        await buildTree(root, [{ type: 'fifo', path: 'run/fifo', mode: 0o600 }]);
        // Node unlinks a socket when its server closes: keep a second name for it.
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(join(root, 'run/s0'), resolve));
        await link(join(root, 'run/s0'), join(root, 'run/socket'));
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });
      await d.create('child', 'base');
      await withLayer(d, 'child', async (r) => {
        expect((await lstat(join(r, 'run/socket'))).isSocket()).toBe(true);
        expect((await lstat(join(r, 'run/fifo'))).isFIFO()).toBe(true);
      });
      expect(await d.changes('child', 'base')).toEqual([]);
    });
  });
});

describe('layout and recovery', () => {
  it('keeps layers in home/dir/<id> and leaves home/tmp empty', async () => {
    await withDriver(async (d, home) => {
      await d.create('a', null);
      await d.createReadWrite('b', 'a');
      expect((await readdir(join(home, 'dir'))).sort()).toEqual(['a', 'b']);
      expect(await readdir(join(home, 'tmp'))).toEqual([]);
      expect(await d.get('b')).toBe(join(home, 'dir', 'b'));
      await d.put('b');
      expect(await d.getMetadata('a')).toEqual({ Path: join(home, 'dir', 'a') });
      await d.remove('b');
      expect(await readdir(join(home, 'dir'))).toEqual(['a']);
      expect(await readdir(join(home, 'tmp'))).toEqual([]);
    });
  });

  it('deletes debris in home/tmp and directories no layer owns at init', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    try {
      const d = await init(home, []);
      await d.create('kept', null);
      await d.cleanup();
      await buildTree(join(home, 'tmp', 'new-deadbeef'), [
        { type: 'file', path: 'half/copied', content: 'x' },
        { type: 'dir', path: 'ro', mode: 0o555 },
      ]);
      await mkdir(join(home, 'dir', 'orphan', 'sub'), { recursive: true });
      const d2 = await init(home, []);
      expect(await d2.list()).toEqual(['kept']);
      expect(await readdir(join(home, 'tmp'))).toEqual([]);
      expect(await readdir(join(home, 'dir'))).toEqual(['kept']);
      await d2.cleanup();
    } finally {
      await removeTree(home);
    }
  });

  it('a create killed half way leaves no layer, and the next init clears its debris', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    try {
      // A parent big enough that copying it takes a while: many small files.
      const d = await init(home, []);
      await d.create('base', null);
      await withLayer(d, 'base', async (root) => {
        for (let i = 0; i < 40; i++) {
          await mkdir(join(root, `d${i}`));
          await Promise.all(Array.from({ length: 500 }, (_, j) => writeFile(join(root, `d${i}`, `f${j}`), randomContent(64, j))));
        }
      });
      await d.cleanup();

      const dist = join(packageDir, 'dist', 'index.js');
      const script = `
        const { init } = await import(${JSON.stringify(dist)});
        const d = await init(${JSON.stringify(home)}, []);
        process.stdout.write('creating\\n');
        await d.create('child', 'base');
        process.stdout.write('created\\n');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code, signal) => resolve(signal ? -1 : code)));
      // Kill once the copy has visibly started in home/tmp.
      let started = false;
      for (let i = 0; i < 3000 && !started; i++) {
        await new Promise((r) => setTimeout(r, 5));
        const tmp = await readdir(join(home, 'tmp')).catch(() => []);
        for (const n of tmp) {
          if (n.startsWith('new-') && (await readdir(join(home, 'tmp', n)).catch(() => [])).length > 2) started = true;
        }
        if (out.includes('created')) break;
      }
      child.kill('SIGKILL');
      expect(await exited).toBe(-1);
      expect(started, `the copy never showed in home/tmp (child said: ${out})`).toBe(true);
      expect(out).not.toContain('created');

      // cp must die with its parent (--pdeathsig): nothing may still write into home/tmp
      // (cp runs in home, naming the copy tmp/new-*).
      await waitForNoProcessUsing(home);

      const d2 = await init(home, []);
      expect(await d2.list()).toEqual(['base']);
      expect(await d2.exists('child')).toBe(false);
      expect(await readdir(join(home, 'tmp'))).toEqual([]);
      expect(await readdir(join(home, 'dir'))).toEqual(['base']);
      // and the id is free again
      await d2.create('child', 'base');
      expect(await d2.changes('child', 'base')).toEqual([]);
      await d2.cleanup();
    } finally {
      await removeTree(home);
    }
  }, 300_000);
});

/** Waits (bounded) until no process has `dir` in its command line or works in it. */
async function waitForNoProcessUsing(dir: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const users: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      if (cmd.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) users.push(`${pid} (in ${cwd}): ${cmd.replace(/\0/g, ' ')}`);
    }
    if (!users.length) return;
    if (i === 199) throw new Error(`still running on ${dir}:\n${users.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('options', () => {
  it('parses vfs.ignore_chown_errors and size, with root-dependent defaults', () => {
    expect(parseVfsOptions([], true)).toEqual({ ignoreChownErrors: false, defaultSize: 0 });
    expect(parseVfsOptions([], false)).toEqual({ ignoreChownErrors: true, defaultSize: 0 });
    expect(parseVfsOptions(['vfs.ignore_chown_errors=true', 'size=10M'], true)).toEqual({
      ignoreChownErrors: true,
      defaultSize: 10 << 20,
    });
    expect(parseVfsOptions(['VFS.Ignore_Chown_Errors=false'], false).ignoreChownErrors).toBe(false);
  });

  it.each([
    ['an unknown key', 'vfs.bogus=1'],
    ['a key without a value', 'vfs.ignore_chown_errors'],
    ['a bad boolean', 'vfs.ignore_chown_errors=maybe'],
    ['a bad size', 'size=lots'],
  ])('refuses %s at init, and leaves the home usable', async (_what, option) => {
    const home = await mkdtemp(join(work, 'home-'));
    try {
      await expect(init(home, [option])).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      const d = await init(home, []);
      await d.cleanup();
    } finally {
      await removeTree(home);
    }
  });

  it('refuses a default size where project quotas are not available', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    try {
      await expect(init(home, ['size=10M'])).rejects.toMatchObject({ code: 'ERR_QUOTA_NOT_SUPPORTED' });
    } finally {
      await removeTree(home);
    }
  });

  it('refuses size on a read-only layer and unknown storage options', async () => {
    await withDriver(async (d) => {
      await expect(d.create('ro', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({ code: 'ERR_QUOTA_NOT_SUPPORTED' });
      await expect(d.createReadWrite('rw', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({
        code: 'ERR_QUOTA_NOT_SUPPORTED',
      });
      await expect(d.createReadWrite('rw', null, { storageOpt: { inodes: '10' } })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      expect(await d.list()).toEqual([]);
    });
  });
});

describe('registry and status', () => {
  it('registers as vfs, with home <root>/vfs', async () => {
    expect(name).toBe('vfs');
    const root = await mkdtemp(join(work, 'root-'));
    const d = await getDriver('vfs', { root });
    try {
      await d.create('x', null);
      expect(await d.get('x')).toBe(join(root, 'vfs', 'dir', 'x'));
      await d.put('x');
    } finally {
      await d.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  });

  // Node's recursive mkdir never returns there: procfs answers ENOENT for any new name.
  it('a root the kernel cannot make (below /proc) is refused, not waited on forever', async () => {
    await expect(getDriver('vfs', { root: '/proc/graphdriver-nope/root' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports the backing filesystem, reflinks and quota', async () => {
    await withDriver(async (d) => {
      const status = Object.fromEntries(await d.status());
      expect(status['Backing Filesystem']).toBe('extfs');
      expect(status.Reflinks).toBe('false');
      expect(status.Quota).toMatch(/^not supported \(.*not on XFS\)$/);
    });
  });
});

describe('reflinks on btrfs', () => {
  const btrfs = tool('btrfs', { env: { LC_ALL: 'C' } });
  const lb = useLoopbackFs('btrfs', 'vfs reflink test on btrfs');
  if (!lb) return;

  /** Exclusive and shared bytes of `path` (btrfs filesystem du --raw -s). */
  async function du(path: string): Promise<{ total: number; exclusive: number; shared: number }> {
    const { stdout } = await btrfs.run(['filesystem', 'du', '--raw', '-s', path]);
    const [total, exclusive, shared] = stdout.trim().split('\n').at(-1)!.trim().split(/\s+/).map(Number);
    return { total, exclusive, shared };
  }

  it('a child of a 100 MB layer shares its extents: no extra space', async () => {
    await withDriver(
      async (d, home) => {
        expect(Object.fromEntries(await d.status()).Reflinks).toBe('true');
        await d.create('base', null);
        const MB = 100 << 20;
        await withLayer(d, 'base', async (root) => {
          // 1 MiB of pseudo-random bytes repeated: btrfs does not compress by default,
          // and the size is what counts
          const chunk = randomContent(1 << 20, 7);
          await writeFile(join(root, 'big'), Buffer.concat(Array.from({ length: 100 }, () => chunk)));
        });
        await tool('sync').run([]);
        const before = await du(join(home, 'dir', 'base'));
        expect(before.total).toBe(MB);
        await d.create('child', 'base');
        await tool('sync').run([]);
        const child = await du(join(home, 'dir', 'child'));
        expect(child.total).toBe(MB);
        expect(child.exclusive).toBeLessThan(1 << 20);
        expect(child.shared).toBe(MB);
        // and the copy is still a copy
        await withLayer(d, 'child', (root) => writeFile(join(root, 'big'), 'mine', { flag: 'r+' }));
        const again = await withLayer(d, 'base', (root) => readFile(join(root, 'big')));
        expect(again.subarray(0, 4).equals(randomContent(1 << 20, 7).subarray(0, 4))).toBe(true);
      },
      [],
      lb.mountpoint(),
    );
  });
});
