// Run by conformance.rootless.test.ts as an unprivileged user (or directly when the test
// run itself is unprivileged): the whole conformance suite with rootless relaxations, plus
// the rootless edges of vfs itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTree, describeConformance, removeTree, withLayer } from '@graphdriver/core/testing';
import { tool } from '@graphdriver/core';
import { init } from '../index.js';
import { vfsTarget } from '../test-support/targets.js';

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
