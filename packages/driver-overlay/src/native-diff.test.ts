// The native diff (the upper dir alone) must give exactly what core's naive diff of the two
// mounted trees gives: the same change list, the same tar, the same size. Checked on seeded
// random trees and edits over two generations, against grandparents (where it steps aside),
// through Docker's own applier, and for Docker layer tars with whiteouts and opaque dirs.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyLayer, changesDirs, changesSize, exportChanges, formatChange, readXattr, type Change, type Driver } from '@graphdriver/core';
import {
  blankWhiteoutTimes,
  buildRandomTree,
  compareTrees,
  Rand,
  randomEdits,
  requireReference,
  snapshotTree,
  requireBackingSystem,
} from '@graphdriver/core/testing';
import type { OverlayBackend } from './backend.js';
import { openOverlay } from './init.js';
import { collect, dockerWhiteoutLayers } from './test-support/layer-tars.js';

const run = promisify(execFile);
/** Docker's own pkg/archive (the reference peer): fails under CI when missing, warns elsewhere. */
const PEER = requireReference('peer', "overlay2 native-diff.test.ts's Docker applier checks");
const root = process.getuid?.() === 0;
if (!root) requireBackingSystem('overlay2 native diff tests', 'kernel overlay needs root');

const lines = (changes: Change[]) => changes.map(formatChange);

describe.runIf(root)('overlay2 native diff vs naive diff', () => {
  let base = '';
  let open: { driver: Driver; backend: OverlayBackend } | undefined;
  beforeAll(async () => {
    base = await mkdtemp('/var/tmp/gd-overlay-native-');
  });
  afterEach(async () => {
    await open?.driver.cleanup();
    open = undefined;
  });
  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  async function start(): Promise<{ d: Driver; b: OverlayBackend }> {
    open = await openOverlay(await mkdtemp(join(base, 'home-')));
    expect(open.backend.native.naiveReason, 'this kernel must allow the native diff').toBeNull();
    return { d: open.driver, b: open.backend };
  }

  /** Runs fn with both layers mounted (the naive diff's view). */
  async function mounted<T>(d: Driver, id: string, parent: string, fn: (dir: string, pdir: string) => Promise<T>): Promise<T> {
    const dir = await d.get(id);
    const pdir = await d.get(parent);
    try {
      return await fn(dir, pdir);
    } finally {
      await d.put(parent);
      await d.put(id);
    }
  }

  async function edit(d: Driver, id: string, r: Rand, n: number): Promise<string[]> {
    const dir = await d.get(id);
    try {
      return await randomEdits(dir, r, n);
    } finally {
      await d.put(id);
    }
  }

  /** Native changes of (id, parent), which must have been answered natively, and the naive ones. */
  async function both(d: Driver, b: OverlayBackend, id: string, parent: string) {
    const before = b.diffStats.native;
    const native = await d.changes(id, parent);
    expect(b.diffStats.native, `native path declined: ${b.diffStats.lastReason}`).toBe(before + 1);
    const naive = await mounted(d, id, parent, (dir, pdir) => changesDirs(dir, pdir));
    return { native: lines(native), naive: lines(naive) };
  }

  /**
   * Applies `tar` with Docker's applier and with core's, each on a plain copy of `parent`'s
   * tree, and returns how the two results differ. (Plain copies: the merged view of a layer
   * shows link counts of lower files that a copy-up left behind, which no copy has.)
   */
  async function dockerApplies(d: Driver, parent: string, tar: Buffer): Promise<string[]> {
    const work = await mkdtemp(join(base, 'apply-'));
    try {
      const [moby, ours] = [join(work, 'moby'), join(work, 'ours')];
      const pdir = await d.get(parent);
      try {
        for (const dest of [moby, ours]) await run('cp', ['-a', pdir, dest]);
      } finally {
        await d.put(parent);
      }
      await writeFile(join(work, 'layer.tar'), tar);
      // From inside the tree: Docker applies in a chroot, where its relative hardlink names
      // (which its chmod of a link looks up) resolve inside the tree.
      await run(PEER as string, ['apply', moby, join(work, 'layer.tar')], { cwd: moby });
      await applyLayer(ours, Readable.from([tar]));
      return compareTrees(await snapshotTree(moby), await snapshotTree(ours), { mtime: 'seconds' });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  // OVERLAY_DIFF_ROUNDS=500 for a longer search; OVERLAY_DIFF_SEED to start elsewhere
  const rounds = Number(process.env.OVERLAY_DIFF_ROUNDS ?? 40);
  const seed0 = Number(process.env.OVERLAY_DIFF_SEED ?? 1000);

  it(`equals the naive diff over ${rounds} rounds of random trees and random edits, children and grandchildren`, async () => {
    const { d, b } = await start();
    let nonEmpty = 0;
    for (let round = 0; round < rounds; round++) {
      const r = new Rand(seed0 + round);
      const [p, c, g] = [`base-${round}`, `child-${round}`, `grand-${round}`];
      await d.create(p, null);
      await buildRandomTree(await d.get(p), r, 60 + r.int(120));
      await d.put(p);
      await d.create(c, p);
      const log = await edit(d, c, r, 1 + r.int(30));
      const first = await both(d, b, c, p);
      expect(first.native, `round ${round}: ${log.join('; ')}`).toEqual(first.naive);
      if (first.naive.length) nonEmpty++;

      // a second generation: edits over two lower layers (whiteouts and opaque dirs below)
      await d.createReadWrite(g, c);
      const log2 = await edit(d, g, r, 1 + r.int(20));
      const second = await both(d, b, g, c);
      expect(second.native, `round ${round} (grandchild): ${log2.join('; ')}`).toEqual(second.naive);

      // against the grandparent: the native path declines and the naive answer comes back
      const naiveBefore = b.diffStats.naive;
      const vsGrand = lines(await d.changes(g, p));
      expect(b.diffStats.naive).toBe(naiveBefore + 1);
      expect(vsGrand).toEqual(lines(await mounted(d, g, p, (dir, pdir) => changesDirs(dir, pdir))));

      for (const id of [g, c, p]) await d.remove(id);
    }
    expect(nonEmpty).toBeGreaterThan(rounds * 0.75);
  }, 1_800_000);

  it('gives the same tar and size as the naive export, and Docker applies it to the same tree', async () => {
    const { d, b } = await start();
    for (let round = 0; round < 6; round++) {
      const r = new Rand(77 + round);
      const [p, c, g] = [`p${round}`, `c${round}`, `g${round}`];
      await d.create(p, null);
      await buildRandomTree(await d.get(p), r, 120);
      await d.put(p);
      await d.create(c, p);
      await edit(d, c, r, 25);
      await d.create(g, c);
      await edit(d, g, r, 15);
      for (const [id, parent] of [
        [c, p],
        [g, c],
      ]) {
        const before = b.diffStats.native;
        const tar = await collect(await d.diff(id, parent));
        const size = await d.diffSize(id, parent);
        expect(b.diffStats.native).toBe(before + 2);
        const { want, wantSize } = await mounted(d, id, parent, async (dir, pdir) => {
          const naive = await changesDirs(dir, pdir);
          return { want: await collect(exportChanges(dir, naive)), wantSize: await changesSize(dir, naive) };
        });
        expect(blankWhiteoutTimes(tar).equals(blankWhiteoutTimes(want)), `round ${round} ${id}: tar differs`).toBe(true);
        expect(size).toBe(wantSize);

        // Docker's own applier (moby pkg/archive) takes it, and makes of a copy of the parent
        // what core's applier makes of another
        if (PEER) await expect(dockerApplies(d, parent, tar)).resolves.toEqual([]);
      }
    }
  }, 600_000);

  it('applies Docker whiteouts and opaque dirs as overlay ones, and diffs them back as the naive diff does', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    const { parent: parentTar, layer, changes: wantChanges } = await dockerWhiteoutLayers();
    await d.applyDiff('p', null, Readable.from([parentTar]));

    await d.create('c', 'p');
    await d.applyDiff('c', 'p', Readable.from([layer]));
    // stored as overlay's own whiteouts
    const upper = b.layout.diff('c');
    const { stdout } = await run('stat', ['-c', '%F %t:%T', join(upper, 'etc/gone')]);
    expect(stdout.trim()).toBe('character special file 0:0');
    expect(readXattr(join(upper, 'opq'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    // the mounted layer shows what Docker's applier makes of the parent's tree with it
    if (PEER) {
      const dest = await mkdtemp(join(base, 'moby-'));
      try {
        await writeFile(join(dest, 'layer.tar'), layer);
        await run('cp', ['-a', await d.get('p'), join(dest, 'tree')]);
        await d.put('p');
        await run(PEER as string, ['apply', join(dest, 'tree'), join(dest, 'layer.tar')], { cwd: join(dest, 'tree') });
        const want = await snapshotTree(join(dest, 'tree'));
        const got = await snapshotTree(await d.get('c'));
        await d.put('c');
        expect(compareTrees(want, got, { mtime: 'seconds', ignore: (p) => p === '/' })).toEqual([]);
      } finally {
        await rm(dest, { recursive: true, force: true });
      }
    }
    // the diff back: the naive diff's bytes (the opaque dir as a whiteout per hidden name)
    const tar = await collect(await d.diff('c', 'p'));
    const want = await mounted(d, 'c', 'p', async (dir, pdir) => collect(exportChanges(dir, await changesDirs(dir, pdir))));
    expect(blankWhiteoutTimes(tar).equals(blankWhiteoutTimes(want))).toBe(true);
    expect(lines(await d.changes('c', 'p'))).toEqual(wantChanges);

    // and a diff we wrote, applied to a fresh child of the same parent, diffs back byte-identical
    await d.create('c2', 'p');
    await d.applyDiff('c2', 'p', Readable.from([tar]));
    const again = await collect(await d.diff('c2', 'p'));
    expect(blankWhiteoutTimes(again).equals(blankWhiteoutTimes(tar))).toBe(true);
    expect(b.diffStats.naive).toBe(0);
  }, 300_000);
});
