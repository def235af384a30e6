// Run by conformance.rootless.test.ts as an unprivileged user (or directly when the test
// run itself is unprivileged): the whole conformance suite with rootless relaxations, plus
// the rootless edges of vfs itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTree, describeConformance, removeTree, withLayer } from '@graphdriver/core/testing';
import { tool } from '@graphdriver/core';
import { init } from './index.js';
import { vfsTarget } from './test-support/targets.js';

const uid = process.getuid?.() ?? 0;
if (uid === 0) throw new Error('rootless.suite.ts must run as an unprivileged user');

let base = '';
beforeAll(async () => {
  base = await mkdtemp(join(process.env.GD_VFS_SUITE_DIR || process.env.TMPDIR || '/tmp', 'rootless-'));
});
afterAll(async () => {
  if (base) await removeTree(base);
});

describeConformance(vfsTarget(`vfs rootless (uid ${uid})`, () => base, { rootless: true }));

describe('vfs rootless specifics', () => {
  const tar = tool('tar', { env: { LC_ALL: 'C' } });

  /** A layer tar whose entries are owned by root, as every image layer's are. */
  async function rootOwnedTar(): Promise<Buffer> {
    const src = await mkdtemp(join(base, 'tar-src-'));
    await buildTree(src, [
      { type: 'file', path: 'etc/hostname', content: 'rootless\n', mode: 0o644 },
      { type: 'dir', path: 'var/log', mode: 0o755 },
    ]);
    const out = join(base, `layer-${Date.now()}.tar`);
    await tar.run(['-C', src, '--owner=0', '--group=0', '--numeric-owner', '-cf', out, '.']);
    const { readFile } = await import('node:fs/promises');
    const data = await readFile(out);
    await rm(out);
    await removeTree(src);
    return data;
  }

  it('applies a root-owned layer (chown errors ignored by default when unprivileged)', async () => {
    const home = await mkdtemp(join(base, 'home-'));
    const d = await init(home, []);
    try {
      await d.create('l', null);
      await d.applyDiff('l', null, Readable.from([await rootOwnedTar()]));
      await withLayer(d, 'l', async (root) => {
        const { lstat, readFile } = await import('node:fs/promises');
        expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('rootless\n');
        expect((await lstat(join(root, 'etc/hostname'))).uid).toBe(uid);
      });
      await d.create('child', 'l');
      expect(await d.changes('child', 'l')).toEqual([]);
    } finally {
      await d.cleanup();
      await removeTree(home);
    }
  });

  it('vfs.ignore_chown_errors=false makes the same apply fail', async () => {
    const home = await mkdtemp(join(base, 'home-'));
    const d = await init(home, ['vfs.ignore_chown_errors=false']);
    try {
      await d.create('l', null);
      await expect(d.applyDiff('l', null, Readable.from([await rootOwnedTar()]))).rejects.toThrow();
      expect(await d.list()).toEqual([]);
    } finally {
      await d.cleanup();
      await removeTree(home);
    }
  });

  it('a layer holding files its owner cannot read (0222, 0000, 04222) and a closed directory (0000) gets children, changes, diffs, sizes and removal; modes never change', async () => {
    const { chmod, lstat, mkdir, rm, writeFile } = await import('node:fs/promises');
    const { readTar, ChangeKind } = await import('@graphdriver/core');
    /** A layer tar read to the end (that releases the layer): file contents and modes by name. */
    const tarContents = async (stream: Readable) => {
      const tar: Buffer[] = [];
      for await (const c of stream) tar.push(c as Buffer);
      const files: Record<string, string> = {};
      const modes: Record<string, number> = {};
      for await (const e of readTar(Readable.from([Buffer.concat(tar)]))) {
        const chunks: Buffer[] = [];
        for await (const c of e.body) chunks.push(c as Buffer);
        const name = e.header.name.replace(/^\.?\//, '');
        modes[name] = e.header.mode & 0o7777;
        if (e.header.type === 'file') files[name] = Buffer.concat(chunks).toString();
      }
      return { files, modes };
    };
    const home = await mkdtemp(join(base, 'home-'));
    const d = await init(home, []);
    // dir: closed (0000); list-only: may be listed, not entered (0400); enter-only: the reverse (0300)
    const modes: Record<string, number> = {
      'w-only': 0o222,
      none: 0o000,
      'setuid-w': 0o4222,
      'dir/inner': 0o000,
      dir: 0o000,
      'list-only': 0o400,
      'enter-only': 0o300,
    };
    const snapshot = async (root: string) => {
      const out: Record<string, number> = {};
      for (const p of ['dir', 'w-only', 'none', 'setuid-w', 'list-only', 'enter-only']) out[p] = (await lstat(join(root, p))).mode & 0o7777;
      return out;
    };
    try {
      await d.create('base', null);
      const root = await d.get('base');
      for (const name of ['w-only', 'none', 'setuid-w']) await writeFile(join(root, name), `${name}\n`);
      for (const dir of ['dir', 'list-only', 'enter-only']) {
        await mkdir(join(root, dir));
        await writeFile(join(root, dir, 'inner'), 'inner\n');
      }
      for (const [p, m] of Object.entries(modes)) await chmod(join(root, p), m);
      await d.put('base');
      const want = await snapshot(root);
      expect(want).toEqual({ dir: 0o000, 'w-only': 0o222, none: 0o000, 'setuid-w': 0o4222, 'list-only': 0o400, 'enter-only': 0o300 });

      await d.create('child', 'base');
      await d.createReadWrite('rw', 'child');
      expect(await snapshot(root), 'the parent got its modes back').toEqual(want);
      await withLayer(d, 'rw', async (r) => expect(await snapshot(r), 'the copy has the same modes').toEqual(want));
      // Diffs walk the closed directory (0000) as it is: opened for the walk, closed again.
      expect(await d.changes('child', 'base')).toEqual([]);
      expect(await d.changes('rw', 'child')).toEqual([]);
      const base = await tarContents(await d.diff('base', null));
      expect(base.files).toMatchObject({
        'w-only': 'w-only\n',
        none: 'none\n',
        'setuid-w': 'setuid-w\n',
        'dir/inner': 'inner\n',
        'list-only/inner': 'inner\n',
        'enter-only/inner': 'inner\n',
      });
      expect(base.modes).toMatchObject({
        'dir/': 0o000,
        'dir/inner': 0o000,
        none: 0o000,
        'w-only': 0o222,
        'setuid-w': 0o4222,
        'list-only/': 0o400,
        'enter-only/': 0o300,
      });
      expect(await snapshot(root), 'the diff left the modes alone').toEqual(want);

      // In the rw layer, inside the closed directory: a file added, one deleted, then closed again.
      await withLayer(d, 'rw', async (r) => {
        await chmod(join(r, 'dir'), 0o700);
        await writeFile(join(r, 'dir/added'), 'added\n');
        await rm(join(r, 'dir/inner'));
        await chmod(join(r, 'dir'), 0o000);
      });
      expect(await d.changes('rw', 'child')).toEqual([
        { path: '/dir', kind: ChangeKind.Modify },
        { path: '/dir/added', kind: ChangeKind.Add },
        { path: '/dir/inner', kind: ChangeKind.Delete },
      ]);
      const top = await tarContents(await d.diff('rw', 'child'));
      expect(top.files).toEqual({ 'dir/added': 'added\n', 'dir/.wh.inner': '' });
      expect(top.modes['dir/']).toBe(0o000);
      expect(await d.diffSize('rw', 'child')).toBe('added\n'.length);
      await withLayer(d, 'rw', async (r) => expect((await lstat(join(r, 'dir'))).mode & 0o7777, 'closed again').toBe(0o000));
      // Walks of the same layers at once (an export diffs a layer and its child together) share
      // the openings: the same results, and the modes back once the last one is done.
      const together = await Promise.all([
        (async () => tarContents(await d.diff('base', null)))(),
        (async () => tarContents(await d.diff('rw', 'child')))(),
        d.changes('rw', 'child'),
        d.changes('child', 'base'),
      ]);
      expect(together).toEqual([base, top, await d.changes('rw', 'child'), []]);
      for (const id of ['base', 'child']) {
        await withLayer(d, id, async (r) => expect(await snapshot(r), `${id} keeps its modes`).toEqual(want));
      }

      // Removal with the closed directory still closed.
      for (const id of ['rw', 'child', 'base']) await d.remove(id);
      expect(await d.list()).toEqual([]);
    } finally {
      await d.cleanup();
      await removeTree(home);
    }
  });

  it('status says no quota: project quotas need root', async () => {
    const home = await mkdtemp(join(base, 'home-'));
    const d = await init(home, []);
    try {
      const status = Object.fromEntries(await d.status());
      expect(status.Quota).toMatch(/not supported/);
      await expect(d.createReadWrite('q', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({
        code: 'ERR_QUOTA_NOT_SUPPORTED',
      });
    } finally {
      await d.cleanup();
      await removeTree(home);
    }
  });
});
