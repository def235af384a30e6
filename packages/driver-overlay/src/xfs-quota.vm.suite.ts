// The conformance suite on a loopback XFS mounted with prjquota, where `size` works, and the
// project-quota edges of overlay2 (Docker's overlay2.size and --storage-opt size). Run by
// conformance.xfs-quota.vm.test.ts: in this process's kernel when it has XFS quota support,
// else inside the test VM (tools/vm/run), whose Debian kernel has it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '@graphdriver/core';
import { describeConformance, makeLoopbackFs, removeTree, withLayer, type LoopbackFs } from '@graphdriver/core/testing';
import { init } from './index.js';
import { overlayTarget } from './test-support/targets.js';

let fs: LoopbackFs | undefined;
beforeAll(async () => {
  fs = await makeLoopbackFs('xfs', { size: 1 << 30, mountOptions: 'prjquota' });
});
afterAll(async () => {
  await fs?.teardown();
});

describeConformance(overlayTarget('overlay2 on a loopback xfs with prjquota', () => fs!.mountpoint, { quota: 'required' }));

describe('overlay2 xfs project quota specifics', () => {
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

  /** Writes `bytes` into layer `id` (through its overlay mount when it has a parent): 'ok' or the errno code. */
  const fill = (d: Driver, id: string, name: string, bytes: number) =>
    withLayer(d, id, (root) =>
      writeFile(join(root, name), randomBytes(bytes)).then(
        () => 'ok',
        (err: NodeJS.ErrnoException) => (err.errno === -122 ? 'EDQUOT' : err.code),
      ),
    );

  it('gives each sized layer a project of its own on its layer dir, limits writes through the overlay, and frees it on remove', async () => {
    await withDriver([], async (d, home) => {
      expect(Object.fromEntries(await d.status()).Quota).toMatch(/^xfs project quota on /);
      await d.create('base', null);
      await d.createReadWrite('q1', 'base', { storageOpt: { size: '20M' } });
      await d.createReadWrite('q2', 'base', { storageOpt: { size: '20M' } });
      const p1 = (await d.getMetadata('q1')).ProjectId;
      const p2 = (await d.getMetadata('q2')).ProjectId;
      expect(p1).toMatch(/^\d+$/);
      expect(p2).toMatch(/^\d+$/);
      expect(p1).not.toBe(p2);
      expect(JSON.parse(await readFile(join(home, 'quota-projects.json'), 'utf8'))).toEqual({ q1: Number(p1), q2: Number(p2) });
      // the limits are per layer, and hold for writes through the mounted overlay
      expect(await fill(d, 'q1', 'a', 15 * MiB)).toBe('ok');
      expect(await fill(d, 'q2', 'a', 15 * MiB)).toBe('ok');
      expect(['EDQUOT', 'ENOSPC']).toContain(await fill(d, 'q1', 'b', 10 * MiB));
      await d.remove('q1');
      await d.remove('q2');
      expect(JSON.parse(await readFile(join(home, 'quota-projects.json'), 'utf8').catch(() => '{}'))).toEqual({});
    });
  });

  it("a child of a sized layer is not limited by its parent's quota", async () => {
    await withDriver([], async (d) => {
      await d.createReadWrite('small', null, { storageOpt: { size: '10M' } });
      await d.create('child', 'small');
      expect(await fill(d, 'child', 'big', 30 * MiB)).toBe('ok');
    });
  });

  it("size on a read-only layer is refused, as Docker's overlay2 does", async () => {
    await withDriver([], async (d) => {
      await expect(d.create('ro', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({ code: 'ERR_QUOTA_NOT_SUPPORTED' });
      expect(await d.list()).toEqual([]);
    });
  });

  it('overlay2.size= is the default quota of read-write layers only; a storage option overrides it', async () => {
    await withDriver(['overlay2.size=10M'], async (d) => {
      await d.create('base', null);
      await d.createReadWrite('rw', 'base');
      await d.create('ro', 'base');
      expect((await d.getMetadata('rw')).ProjectId).toMatch(/^\d+$/);
      expect((await d.getMetadata('ro')).ProjectId).toBeUndefined();
      expect(['EDQUOT', 'ENOSPC']).toContain(await fill(d, 'rw', 'big', 20 * MiB));
      expect(await fill(d, 'ro', 'big', 20 * MiB)).toBe('ok');
      await d.createReadWrite('rw2', 'base', { storageOpt: { size: '40M' } });
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
