// overlay2's own edges, beyond the conformance suite: moby's on-disk layout, mounts and
// their references, recovery of a crashed process's leftovers, the filesystems it refuses,
// and the kernel features (redirect_dir, metacopy) that make it fall back to the naive diff.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changesDirs, formatChange, type Driver } from '@graphdriver/core';
import { mountsUnder, requireBackingSystem } from '@graphdriver/core/testing';
import type { OverlayBackend } from './backend.js';
import { init, openOverlay } from './init.js';
import { isShortId } from './layout.js';
import { fuseOverlayfs, isMountPoint, kernelMounter } from './overlay-mount.js';

const run = promisify(execFile);
const root = process.getuid?.() === 0;
if (!root) requireBackingSystem('overlay2 driver tests', 'kernel overlay needs root');

describe.runIf(root)('overlay2', () => {
  let base = '';
  const drivers: Driver[] = [];
  beforeAll(async () => {
    base = await mkdtemp('/var/tmp/gd-overlay-');
  });
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.cleanup().catch(() => {});
  });
  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });
  const newHome = async () => join(await mkdtemp(join(base, 'h-')), 'overlay2');
  async function open(home: string, deps?: Parameters<typeof openOverlay>[3]): Promise<{ d: Driver; b: OverlayBackend }> {
    const o = await openOverlay(home, [], undefined, deps);
    drivers.push(o.driver);
    return { d: o.driver, b: o.backend };
  }

  it("lays layers out as moby's overlay2: diff, link, lower (nearest first), work, merged, l/ links", async () => {
    const home = await newHome();
    const { d } = await open(home);
    await d.create('a', null);
    await d.create('b', 'a');
    await d.createReadWrite('c', 'b');
    const short = async (id: string) => (await readFile(join(home, id, 'link'), 'utf8')).trim();
    for (const id of ['a', 'b', 'c']) {
      for (const dir of ['diff', 'work', 'merged']) expect((await lstat(join(home, id, dir))).isDirectory()).toBe(true);
      const s = await short(id);
      expect(isShortId(s)).toBe(true);
      expect(await readlink(join(home, 'l', s))).toBe(`../${id}/diff`);
    }
    expect(existsSync(join(home, 'a', 'lower'))).toBe(false);
    expect(await readFile(join(home, 'b', 'lower'), 'utf8')).toBe(`l/${await short('a')}`);
    expect(await readFile(join(home, 'c', 'lower'), 'utf8')).toBe(`l/${await short('b')}:l/${await short('a')}`);
    expect((await readdir(join(home, 'l'))).sort()).toEqual([await short('a'), await short('b'), await short('c')].sort());

    // a base layer's root is its diff dir; a child's is an overlay at merged, counted
    expect(await d.get('a')).toBe(join(home, 'a', 'diff'));
    await d.put('a');
    const merged = await d.get('c');
    expect(merged).toBe(join(home, 'c', 'merged'));
    expect(await d.get('c')).toBe(merged);
    expect(await isMountPoint(merged)).toBe(true);
    const info = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === merged)!;
    expect(info).toMatch(/ - overlay overlay /);
    expect(info).toContain(`lowerdir=l/${await short('b')}:l/${await short('a')}`);
    await d.put('c');
    expect(await isMountPoint(merged)).toBe(true);
    await d.put('c');
    expect(await isMountPoint(merged)).toBe(false);
    expect(await d.getMetadata('c')).toEqual({
      LowerDir: `${join(home, 'l', await short('b'))}:${join(home, 'l', await short('a'))}`,
      UpperDir: join(home, 'c', 'diff'),
      WorkDir: join(home, 'c', 'work'),
      MergedDir: merged,
    });
    for (const id of ['c', 'b', 'a']) await d.remove(id);
    expect(await readdir(join(home, 'l'))).toEqual([]);
  });

  it('recovery unmounts and deletes what no record knows: half-made layers, stale mounts, dangling links', async () => {
    const home = await newHome();
    const { d } = await open(home);
    await d.create('keep', null);
    await d.create('child', 'keep');
    await d.get('child');
    await d.close!(); // like a process that dies: mounts and references stay
    // leftovers of a crash: a half-made layer in tmp (mounted), an unrecorded layer, a dangling link
    const tmp = join(home, 'tmp', 'new-deadbeef');
    for (const dir of ['diff', 'work', 'merged']) await mkdir(join(tmp, dir), { recursive: true });
    await run('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${join(home, 'keep', 'diff')},upperdir=${tmp}/diff,workdir=${tmp}/work`,
      `${tmp}/merged`,
    ]);
    for (const dir of ['diff', 'work', 'merged']) await mkdir(join(home, 'orphan', dir), { recursive: true });
    await run('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${join(home, 'keep', 'diff')},upperdir=${home}/orphan/diff,workdir=${home}/orphan/work`,
      `${home}/orphan/merged`,
    ]);
    await symlink('../gone/diff', join(home, 'l', 'AAAAAAAAAAAAAAAAAAAAAAAAAA'));

    const { d: d2 } = await open(home);
    expect(await d2.list()).toEqual(['child', 'keep']);
    expect(await readdir(join(home, 'tmp'))).toEqual([]);
    expect(existsSync(join(home, 'orphan'))).toBe(false);
    expect(await readdir(join(home, 'l'))).toHaveLength(2);
    // the kept layer's mount of the dead process is still its own: only what no record knows went
    expect(await mountsUnder(home)).toEqual([join(home, 'child', 'merged')]);
    await d2.cleanup();
    expect(await mountsUnder(home)).toEqual([]);
  });

  it('refuses with ERR_INCOMPATIBLE_FS, naming the filesystem, a home on overlay or on FUSE', async () => {
    // a home inside a mounted overlay layer
    const home = await newHome();
    const { d } = await open(home);
    await d.create('a', null);
    await d.create('b', 'a');
    const merged = await d.get('b');
    await expect(init(join(merged, 'nested'), [])).rejects.toMatchObject({
      code: 'ERR_INCOMPATIBLE_FS',
      message: expect.stringMatching(/overlay/),
    });
    await d.put('b');
    // a FUSE filesystem (fuse-overlayfs run by root, as zfs-fuse would be)
    const fuse = await mkdtemp(join(base, 'fuse-'));
    for (const dir of ['lower', 'upper', 'work', 'mnt']) await mkdir(join(fuse, dir));
    await fuseOverlayfs.run(['-o', `lowerdir=${fuse}/lower,upperdir=${fuse}/upper,workdir=${fuse}/work`, `${fuse}/mnt`]);
    try {
      await expect(init(join(fuse, 'mnt', 'home'), [])).rejects.toMatchObject({
        code: 'ERR_INCOMPATIBLE_FS',
        message: expect.stringMatching(/fuse/),
      });
    } finally {
      await run('fusermount3', ['-u', `${fuse}/mnt`]);
    }
  });

  it('steps aside for the naive diff where the mount has redirect_dir or metacopy, with the same answer', async () => {
    for (const extra of [['redirect_dir=on'], ['metacopy=on']]) {
      const home = await newHome();
      const { d, b } = await open(home, { mounter: kernelMounter(extra) });
      expect(b.native.naiveReason).toMatch(extra[0].startsWith('redirect') ? /redirect/ : /metadata only|redirect/);
      await d.create('p', null);
      const p = await d.get('p');
      await mkdir(join(p, 'dir/sub'), { recursive: true });
      await writeFile(join(p, 'dir/sub/f'), 'f');
      await writeFile(join(p, 'file'), 'x');
      await d.put('p');
      await d.create('c', 'p');
      const c = await d.get('c');
      await run('mv', [join(c, 'dir'), join(c, 'moved')]); // a redirect: the upper dir alone would miss dir/sub/f
      await run('chmod', ['600', join(c, 'file')]); // metacopy: only metadata in the upper dir
      await d.put('c');
      const naiveBefore = b.diffStats.naive;
      const got = (await d.changes('c', 'p')).map(formatChange);
      expect(b.diffStats.naive).toBe(naiveBefore + 1);
      const want = await (async () => {
        const [cd, pd] = [await d.get('c'), await d.get('p')];
        try {
          return (await changesDirs(cd, pd)).map(formatChange);
        } finally {
          await d.put('p');
          await d.put('c');
        }
      })();
      expect(got).toEqual(want);
      expect(got).toEqual(expect.arrayContaining(['D /dir', 'A /moved', 'A /moved/sub/f', 'C /file']));
      await d.cleanup();
    }
  });
});
