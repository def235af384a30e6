// The conformance suite on a loopback XFS mounted with prjquota, where `size` works, and
// the project-quota edges of vfs. Run by conformance.xfs-quota.vm.test.ts: in this process's
// kernel when it has XFS quota support, else inside the test VM (tools/vm/run), whose
// Debian kernel has it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XfsQuota, type Driver } from '@graphdriver/core';
import { describeConformance, makeLoopbackFs, removeTree, withLayer, type LoopbackFs } from '@graphdriver/core/testing';
import { init } from './index.js';
import { vfsTarget } from './test-support/targets.js';

let fs: LoopbackFs | undefined;
beforeAll(async () => {
  fs = await makeLoopbackFs('xfs', { size: 1 << 30, mountOptions: 'prjquota' });
});
afterAll(async () => {
  await fs?.teardown();
});

describeConformance(vfsTarget('vfs on a loopback xfs with prjquota', () => fs!.mountpoint, { quota: 'required' }));

describe('vfs xfs project quota specifics', () => {
  const MiB = 1 << 20;

  async function withDriver(options: string[], fn: (d: Driver, home: string) => Promise<void>): Promise<void> {
    const home = await mkdtemp(join(fs!.mountpoint, 'quota-home-'));
    const d = await init(home, options);
    try {
      await fn(d, home);
    } finally {
      await d.cleanup();
      await removeTree(home);
    }
  }

  /** Writes `bytes` into layer `id`; resolves to the errno code of the failure, or 'ok'. */
  const fill = (d: Driver, id: string, name: string, bytes: number) =>
    withLayer(d, id, (root) =>
      writeFile(join(root, name), randomBytes(bytes)).then(
        () => 'ok',
        (err: NodeJS.ErrnoException) => (err.errno === -122 ? 'EDQUOT' : err.code),
      ),
    );

  it('gives each sized layer a project of its own, reports it, and frees it on remove', async () => {
    await withDriver([], async (d, home) => {
      expect(Object.fromEntries(await d.status()).Quota).toMatch(/^xfs project quota on /);
      await d.createReadWrite('q1', null, { storageOpt: { size: '20M' } });
      await d.createReadWrite('q2', null, { storageOpt: { size: '20M' } });
      const p1 = (await d.getMetadata('q1')).ProjectId;
      const p2 = (await d.getMetadata('q2')).ProjectId;
      expect(p1).toMatch(/^\d+$/);
      expect(p2).toMatch(/^\d+$/);
      expect(p1).not.toBe(p2);
      expect(JSON.parse(await readFile(join(home, 'quota-projects.json'), 'utf8'))).toEqual({ q1: Number(p1), q2: Number(p2) });
      // the limits are per layer
      expect(await fill(d, 'q1', 'a', 15 * MiB)).toBe('ok');
      expect(await fill(d, 'q2', 'a', 15 * MiB)).toBe('ok');
      expect(['EDQUOT', 'ENOSPC']).toContain(await fill(d, 'q1', 'b', 10 * MiB));
      await d.remove('q1');
      await d.remove('q2');
      await expect(readFile(join(home, 'quota-projects.json'))).rejects.toMatchObject({ code: 'ENOENT' });
      const inUse = await new XfsQuota(fs!.mountpoint).projectsInUse();
      // freed: no limit left behind (an id may still be listed with no usage and no limit)
      for (const p of [p1, p2]) if (inUse.has(Number(p))) console.info(`project ${p} still listed after remove`);
    });
  });

  it("a child of a sized layer is not limited by its parent's quota", async () => {
    await withDriver([], async (d) => {
      await d.createReadWrite('small', null, { storageOpt: { size: '10M' } });
      await d.create('child', 'small');
      expect(await fill(d, 'child', 'big', 30 * MiB)).toBe('ok');
    });
  });

  it("size on a read-only layer is refused, as Docker's vfs does", async () => {
    await withDriver([], async (d) => {
      await expect(d.create('ro', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({ code: 'ERR_QUOTA_NOT_SUPPORTED' });
      expect(await d.list()).toEqual([]);
    });
  });

  it('the driver option size= is the default quota of read-write layers only', async () => {
    await withDriver(['size=10M'], async (d) => {
      await d.createReadWrite('rw', null);
      await d.create('ro', null);
      expect((await d.getMetadata('rw')).ProjectId).toMatch(/^\d+$/);
      expect((await d.getMetadata('ro')).ProjectId).toBeUndefined();
      expect(['EDQUOT', 'ENOSPC']).toContain(await fill(d, 'rw', 'big', 20 * MiB));
      expect(await fill(d, 'ro', 'big', 20 * MiB)).toBe('ok');
      // a storage option overrides the default
      await d.createReadWrite('rw2', null, { storageOpt: { size: '40M' } });
      expect(await fill(d, 'rw2', 'big', 20 * MiB)).toBe('ok');
    });
  });

  it('a project left by a layer that is gone is freed at init', async () => {
    const home = await mkdtemp(join(fs!.mountpoint, 'quota-home-'));
    try {
      const d = await init(home, []);
      await d.createReadWrite('kept', null, { storageOpt: { size: '10M' } });
      const kept = Number((await d.getMetadata('kept')).ProjectId);
      await d.cleanup();
      const state = join(home, 'quota-projects.json');
      await writeFile(state, JSON.stringify({ kept, ghost: kept + 1000 }));
      const d2 = await init(home, []);
      expect(JSON.parse(await readFile(state, 'utf8'))).toEqual({ kept });
      await d2.cleanup();
    } finally {
      await removeTree(home);
    }
  });
});
