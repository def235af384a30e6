// XFS project quotas (`size`, Docker's quota.Control) for drivers whose layers are
// directories (vfs, overlay2), written once: the conformance suite on a loopback XFS mounted
// with prjquota plus the quota edges, and the launcher that runs them in this kernel when it has
// XFS quota support, else inside the test VM (tools/vm/run), whose Debian kernel has it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Driver } from '../driver.js';
import { XfsQuota } from '../linux/project-quota.js';
import { requireBackingSystem } from './backing-system.js';
import { type ChildRun, type ChildSuiteOptions, expectChildRunPassed } from './child-suite.js';
import { type ConformanceTarget, describeConformance } from './conformance.js';
import { removeTree } from './fixtures.js';
import { withLayer } from './layer-helpers.js';
import { canMakeLoopback, makeLoopbackFs } from './loopback.js';
import { useLoopbackFs } from './suites.js';

/** How one driver takes part in {@link describeXfsQuota}: what differs between drivers. */
export interface XfsQuotaTarget {
  /** The driver's name in titles: 'overlay2', 'vfs'. */
  driver: string;
  /**
   * The driver's conformance target named `name`, with homes under `base` (the loopback's
   * mountpoint, known once its beforeAll ran); the suite sets `quota: 'required'` on it.
   */
  target: (name: string, base: () => string) => ConformanceTarget;
  /** The driver option whose value is the default size of read-write layers: 'overlay2.size', 'size'. */
  sizeOption: string;
  /**
   * When true the sized layers are made on a plain parent layer, so their writes go through the
   * driver's mount of a stack (overlay2's overlay) and the limit is checked there.
   */
  stacked: boolean;
}

/**
 * The conformance suite with `quota: 'required'` on a 1 GiB loopback XFS mounted with
 * prjquota, then the project-quota edges: a project per sized layer, limits per layer,
 * projects freed on remove and at init, `size` refused on read-only layers, the driver's
 * default-size option. Call it at the top level of a suite file that runs where the kernel
 * has XFS quota support (see {@link launchXfsQuotaSuite}).
 */
export function describeXfsQuota(t: XfsQuotaTarget): void {
  const suite = `${t.driver} on a loopback xfs with prjquota`;
  const lb = useLoopbackFs('xfs', suite, { mountOptions: 'prjquota' });
  if (!lb) return;
  const { mountpoint } = lb;
  const target: ConformanceTarget = { ...t.target(suite, mountpoint), quota: 'required' };
  describeConformance(target);

  describe(`${t.driver} xfs project quota specifics`, () => {
    const MiB = 1 << 20;

    async function withDriver(options: string[], fn: (d: Driver, home: string) => Promise<void>): Promise<void> {
      const home = await mkdtemp(join(mountpoint(), 'quota-home-'));
      const d = await target.init(home, options);
      try {
        await fn(d, home);
      } finally {
        await d.cleanup();
        await removeTree(home);
      }
    }

    /** The parent for the sized layers: null, or (stacked) a plain layer `base` made here. */
    async function parentIn(d: Driver): Promise<string | null> {
      if (!t.stacked) return null;
      await d.create('base', null);
      return 'base';
    }

    /** Writes `bytes` into layer `id` (through its mount when it has a parent): 'ok' or the errno code. */
    const fill = (d: Driver, id: string, name: string, bytes: number) =>
      withLayer(d, id, (root) =>
        writeFile(join(root, name), randomBytes(bytes)).then(
          () => 'ok',
          (err: NodeJS.ErrnoException) => (err.errno === -122 ? 'EDQUOT' : err.code),
        ),
      );

    const where = t.stacked ? ' through its mount over a parent' : '';
    it(`gives each sized layer a project of its own, limits writes${where}, and frees it on remove`, async () => {
      await withDriver([], async (d, home) => {
        expect(Object.fromEntries(await d.status()).Quota).toMatch(/^xfs project quota on /);
        const parent = await parentIn(d);
        await d.createReadWrite('q1', parent, { storageOpt: { size: '20M' } });
        await d.createReadWrite('q2', parent, { storageOpt: { size: '20M' } });
        const p1 = (await d.getMetadata('q1')).ProjectId;
        const p2 = (await d.getMetadata('q2')).ProjectId;
        expect(p1).toMatch(/^\d+$/);
        expect(p2).toMatch(/^\d+$/);
        expect(p1).not.toBe(p2);
        expect(JSON.parse(await readFile(join(home, 'quota-projects.json'), 'utf8'))).toEqual({ q1: Number(p1), q2: Number(p2) });
        const xfs = new XfsQuota(mountpoint());
        expect(await xfs.hardLimitBytes(Number(p1))).toBe(20 * MiB);
        // the limits are per layer
        expect(await fill(d, 'q1', 'a', 15 * MiB)).toBe('ok');
        expect(await fill(d, 'q2', 'a', 15 * MiB)).toBe('ok');
        expect(['EDQUOT', 'ENOSPC']).toContain(await fill(d, 'q1', 'b', 10 * MiB));
        await d.remove('q1');
        await d.remove('q2');
        // no sized layer left: no project file (core's ProjectQuota removes it)
        await expect(readFile(join(home, 'quota-projects.json'))).rejects.toMatchObject({ code: 'ENOENT' });
        // freed: no limit left behind (xfs_quota may still list an id, with no usage and no limit)
        for (const p of [p1, p2]) expect(await xfs.hardLimitBytes(Number(p)), `project ${p} after remove`).toBe(0);
      });
    });

    it("a child of a sized layer is not limited by its parent's quota", async () => {
      await withDriver([], async (d) => {
        await d.createReadWrite('small', null, { storageOpt: { size: '10M' } });
        await d.create('child', 'small');
        expect(await fill(d, 'child', 'big', 30 * MiB)).toBe('ok');
      });
    });

    it(`size on a read-only layer is refused, as Docker's ${t.driver} does`, async () => {
      await withDriver([], async (d) => {
        await expect(d.create('ro', null, { storageOpt: { size: '10M' } })).rejects.toMatchObject({ code: 'ERR_QUOTA_NOT_SUPPORTED' });
        expect(await d.list()).toEqual([]);
      });
    });

    it(`${t.sizeOption}= is the default quota of read-write layers only; a storage option overrides it`, async () => {
      await withDriver([`${t.sizeOption}=10M`], async (d) => {
        const parent = await parentIn(d);
        await d.createReadWrite('rw', parent);
        await d.create('ro', parent);
        expect((await d.getMetadata('rw')).ProjectId).toMatch(/^\d+$/);
        expect((await d.getMetadata('ro')).ProjectId).toBeUndefined();
        expect(['EDQUOT', 'ENOSPC']).toContain(await fill(d, 'rw', 'big', 20 * MiB));
        expect(await fill(d, 'ro', 'big', 20 * MiB)).toBe('ok');
        await d.createReadWrite('rw2', parent, { storageOpt: { size: '40M' } });
        expect(await fill(d, 'rw2', 'big', 20 * MiB)).toBe('ok');
      });
    });

    it('a project left by a layer that is gone is freed at init', async () => {
      const home = await mkdtemp(join(mountpoint(), 'quota-home-'));
      try {
        const d = await target.init(home, []);
        await d.createReadWrite('kept', null, { storageOpt: { size: '10M' } });
        const kept = Number((await d.getMetadata('kept')).ProjectId);
        await d.cleanup();
        const state = join(home, 'quota-projects.json');
        await writeFile(state, JSON.stringify({ kept, ghost: kept + 1000 }));
        const d2 = await target.init(home, []);
        expect(JSON.parse(await readFile(state, 'utf8'))).toEqual({ kept });
        await d2.cleanup();
      } finally {
        await removeTree(home);
      }
    });
  });
}

/** True when this kernel mounts XFS with prjquota (it refuses without CONFIG_XFS_QUOTA). */
export async function hostHasXfsQuota(): Promise<boolean> {
  try {
    const fs = await makeLoopbackFs('xfs', { mountOptions: 'prjquota' });
    await fs.teardown();
    return true;
  } catch {
    return false;
  }
}

/** Where and how {@link launchXfsQuotaSuite} runs a package's {@link describeXfsQuota} file. */
export interface XfsQuotaLauncher {
  /** The driver's name in messages: 'overlay2', 'vfs'. */
  driver: string;
  /** Imports the suite file into this process (`() => import('./xfs-quota.vm.suite.js')`). */
  importSuite: () => Promise<unknown>;
  /** The same file relative to the repo, for the run in the VM. */
  suitePath: string;
  /** Where the VM run writes its JSON report: on the repo share (the guest sees it), never committed. */
  reportPath: string;
  /** Why this host cannot boot the test VM, or null: tools/vm's `missingVm`. */
  missingVm: () => string | null;
  /** The guest's wrapper, tools/vm's `vmPrefix({ timeoutSeconds })`. */
  vm: {
    /** The command line that runs a program in the guest. */
    prefix: string[];
    /** How long the guest's run may take, in ms. */
    timeout: number;
  };
  /** The package's {@link runChildSuite} with its suites config. */
  runSuite: (opts: Omit<ChildSuiteOptions, 'repoDir' | 'config'>) => Promise<ChildRun>;
  /** At least this many tests pass in the VM run (the conformance table and the quota cases). */
  expectedTests: number;
}

/**
 * A package's `conformance.xfs-quota.vm.test.ts`: without loop devices, {@link requireBackingSystem}'s
 * loud skip (a failure under CI); in a kernel with XFS quota support (or inside the test VM,
 * GRAPHDRIVER_IN_VM=1), the suite file right here; else one test that runs it in the VM.
 */
export async function launchXfsQuotaSuite(l: XfsQuotaLauncher): Promise<void> {
  const suite = `${l.driver} conformance on xfs with prjquota`;
  if (!canMakeLoopback()) {
    requireBackingSystem(suite, 'loop devices need root');
  } else if (process.env.GRAPHDRIVER_IN_VM === '1' || (await hostHasXfsQuota())) {
    await l.importSuite();
  } else {
    console.warn(`[${l.driver} tests] this kernel has no XFS quota support: the prjquota suite runs in the test VM`);
    it(
      'conformance on xfs with prjquota, inside the test VM',
      async () => {
        if (!requireBackingSystem(`${suite} (in the VM)`, l.missingVm())) return;
        const run = await l.runSuite({
          ...l.vm,
          suite: l.suitePath,
          // threads: a forked worker, a whole new node under TCG, can miss vitest's fixed
          // 60 s start-up limit when the host is busy
          vitestArgs: ['--pool=threads'],
          reportPath: l.reportPath,
        });
        expectChildRunPassed(run, l.expectedTests, { label: 'xfs prjquota, in the VM' });
        // runChildSuite runs once more after a runner failure: room for two guests
      },
      2 * l.vm.timeout + 60_000,
    );
  }
}
