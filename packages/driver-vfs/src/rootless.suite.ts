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

  it('a layer holding files its owner cannot read (0222, 0000, 04222) and a closed directory gets children, diffs and removal; modes never change', async () => {
    const { chmod, lstat, mkdir, writeFile } = await import('node:fs/promises');
    const { readTar } = await import('@graphdriver/core');
    const home = await mkdtemp(join(base, 'home-'));
    const d = await init(home, []);
    const modes: Record<string, number> = { 'w-only': 0o222, none: 0o000, 'setuid-w': 0o4222, 'dir/inner': 0o000, dir: 0o000 };
    const snapshot = async (root: string) => {
      const out: Record<string, number> = {};
      for (const p of ['dir', 'w-only', 'none', 'setuid-w']) out[p] = (await lstat(join(root, p))).mode & 0o7777;
      return out;
    };
    try {
      await d.create('base', null);
      const root = await d.get('base');
      for (const name of ['w-only', 'none', 'setuid-w']) await writeFile(join(root, name), `${name}\n`);
      await mkdir(join(root, 'dir'));
      await writeFile(join(root, 'dir/inner'), 'inner\n');
      for (const [p, m] of Object.entries(modes)) await chmod(join(root, p), m);
      await d.put('base');
      const want = await snapshot(root);
      expect(want).toEqual({ dir: 0o000, 'w-only': 0o222, none: 0o000, 'setuid-w': 0o4222 });

      await d.create('child', 'base');
      await d.createReadWrite('rw', 'child');
      expect(await snapshot(root), 'the parent got its modes back').toEqual(want);
      await withLayer(d, 'rw', async (r) => expect(await snapshot(r), 'the copy has the same modes').toEqual(want));
      // Diffs walk directories: a closed one (0000) is not walked yet, so open it in all three
      // layers alike; unreadable files are what the diffs must cope with.
      for (const id of ['base', 'child', 'rw']) await withLayer(d, id, (r) => chmod(join(r, 'dir'), 0o700));
      want.dir = 0o700;
      expect(await d.changes('child', 'base')).toEqual([]);
      expect(await d.changes('rw', 'child')).toEqual([]);
      const contents: Record<string, string> = {};
      const tar: Buffer[] = [];
      for await (const c of await d.diff('base', null)) tar.push(c as Buffer); // read to the end: that releases the layer
      for await (const e of readTar(Readable.from([Buffer.concat(tar)]))) {
        const chunks: Buffer[] = [];
        for await (const c of e.body) chunks.push(c as Buffer);
        if (e.header.type === 'file') contents[e.header.name.replace(/^\.?\//, '')] = Buffer.concat(chunks).toString();
      }
      expect(contents).toMatchObject({ 'w-only': 'w-only\n', none: 'none\n', 'setuid-w': 'setuid-w\n', 'dir/inner': 'inner\n' });
      expect(await snapshot(root), 'the diff left the modes alone').toEqual(want);

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
