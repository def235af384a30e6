// Run by conformance.rootless.test.ts as an unprivileged user (or directly when the test run
// itself is unprivileged): overlay2 through fuse-overlayfs. The conformance suite with
// rootless relaxations, core's crash, concurrency, hostile-input and malformed-argument
// suites on a plain directory (a full disk needs a loopback filesystem, which needs root),
// and the rootless specifics: whiteouts written without mknod, in both forms fuse-overlayfs
// writes them itself (0/0 devices where the kernel lets a user make them, `.wh.` files where
// not, forced here with FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT), read back by the native diff
// exactly as the naive diff of the two mounted trees.
import { lstatSync } from 'node:fs';
import { appendFile, chmod, link, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { changesDirs, exportChanges, formatChange, type Change, type Driver } from '@graphdriver/core';
import {
  blankWhiteoutTimes,
  describeConcurrency,
  describeConformance,
  describeCrashSafety,
  describeHostileInput,
  describeMalformedArguments,
  removeTree,
  type CrashTarget,
} from '@graphdriver/core/testing';
import type { OverlayBackend } from './backend.js';
import { init, openOverlay } from './init.js';
import { mountsBelow } from './overlay-mount.js';
import { collect, dockerWhiteoutLayers } from './test-support/layer-tars.js';
import { overlayTarget } from './test-support/targets.js';
import { assertNoOverlayLeaks } from './test-support/robustness.js';

const uid = process.getuid?.() ?? 0;
if (uid === 0) throw new Error('rootless.suite.ts must run as an unprivileged user');

const driverModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));

let base = '';
beforeAll(async () => {
  base = await mkdtemp(join(process.env.GD_OVERLAY_SUITE_DIR || process.env.TMPDIR || '/tmp', 'rootless-'));
});
afterAll(async () => {
  if (base) await removeTree(base);
});

describeConformance(overlayTarget(`overlay2 rootless through fuse-overlayfs (uid ${uid})`, () => base, { rootless: true }));

const crashTarget: CrashTarget = {
  name: `overlay2 rootless (fuse-overlayfs, uid ${uid})`,
  makeHome: async () => join(await mkdtemp(join(base, 'home-')), 'overlay2'),
  init: (home, options) => init(home, options),
  driverModule,
  assertNoLeaks: assertNoOverlayLeaks,
};
describe(`overlay2 rootless robustness (uid ${uid})`, () => {
  describeCrashSafety(crashTarget);
  describeConcurrency(crashTarget);
  describeHostileInput({
    ...crashTarget,
    badInitOptions: [['overlay2.size=abc'], ['overlay2.bogus=1'], ['overlay2.ignore_chown_errors=maybe']],
  });
  describeMalformedArguments(crashTarget);
});

const lines = (changes: Change[]) => changes.map(formatChange);

const kindOf = (path: string) => {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return 'none';
  if (st.isCharacterDevice()) return `char ${st.rdev}`;
  return st.isFile() ? `file ${st.size}` : st.isDirectory() ? 'dir' : 'other';
};

describe(`overlay2 rootless specifics (uid ${uid})`, () => {
  let open: { driver: Driver; backend: OverlayBackend } | undefined;
  const savedEnv = process.env.FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT;
  afterEach(async () => {
    await open?.driver.cleanup();
    open = undefined;
    if (savedEnv === undefined) delete process.env.FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT;
    else process.env.FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT = savedEnv;
  });

  async function start(): Promise<{ d: Driver; b: OverlayBackend; home: string }> {
    const home = await mkdtemp(join(base, 'specific-'));
    open = await openOverlay(home);
    return { d: open.driver, b: open.backend, home };
  }

  /** Native changes, tar and size of (id, parent), answered natively, and the naive ones of the mounted trees. */
  async function nativeAndNaive(d: Driver, b: OverlayBackend, id: string, parent: string) {
    const before = b.diffStats.native;
    const native = lines(await d.changes(id, parent));
    const tar = await collect(await d.diff(id, parent));
    expect(b.diffStats.native, `native path declined: ${b.diffStats.lastReason}`).toBe(before + 2);
    const dir = await d.get(id);
    const pdir = await d.get(parent);
    try {
      const naive = await changesDirs(dir, pdir);
      return { native, naive: lines(naive), tar, naiveTar: await collect(exportChanges(dir, naive)) };
    } finally {
      await d.put(parent);
      await d.put(id);
    }
  }

  it('mounts children through fuse-overlayfs, says so in status, and unmounts them at the last put', async () => {
    const { d, home } = await start();
    const status = Object.fromEntries(await d.status());
    expect(status['Mount Program']).toBe('fuse-overlayfs');
    expect(status['Native Overlay Diff']).toBe('true');
    await d.create('p', null);
    await writeFile(join(await d.get('p'), 'f'), 'parent');
    await d.put('p');
    await d.create('c', 'p');
    const merged = await d.get('c');
    expect(merged).toBe(join(home, 'c', 'merged'));
    expect(await mountsBelow(home)).toEqual([{ mountpoint: merged, fstype: 'fuse.fuse-overlayfs' }]);
    await writeFile(join(merged, 'f'), 'child');
    await d.put('c');
    expect(await mountsBelow(home)).toEqual([]);
    // copy-on-write: the child's upper dir holds the written file, the parent keeps its own
    expect(kindOf(join(home, 'c', 'diff', 'f'))).toBe('file 5');
    expect(kindOf(join(home, 'p', 'diff', 'f'))).toBe('file 6');
  });

  for (const form of ['devices', 'files'] as const) {
    it(`reads back what fuse-overlayfs writes for deletions and opaque dirs (${form === 'devices' ? '0/0 devices, as this kernel lets a user make' : '.wh. files, FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT=1'}): native = naive`, async () => {
      if (form === 'files') process.env.FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT = '1';
      const { d, b, home } = await start();
      await d.create('p', null);
      const pdir = await d.get('p');
      for (const dir of ['etc', 'gone-dir/sub', 'opq/sub', 'mv']) await mkdir(join(pdir, dir), { recursive: true });
      for (const [f, data] of Object.entries({
        'etc/keep': 'k',
        'etc/gone': 'g',
        'etc/chmod': 'm',
        'etc/grow': 'x',
        'gone-dir/sub/a': 'a',
        'opq/a': 'a',
        'opq/sub/b': 'b',
        'mv/from': 'f',
      })) {
        await writeFile(join(pdir, f), data);
      }
      await link(join(pdir, 'etc/keep'), join(pdir, 'etc/keep-link'));
      await symlink('keep', join(pdir, 'etc/sym'));
      await d.put('p');

      await d.create('c', 'p');
      const m = await d.get('c');
      await rm(join(m, 'etc/gone'));
      await rm(join(m, 'gone-dir'), { recursive: true });
      await rm(join(m, 'opq'), { recursive: true });
      await mkdir(join(m, 'opq'));
      await writeFile(join(m, 'opq/a'), 'a again');
      await rename(join(m, 'mv/from'), join(m, 'mv/to'));
      await chmod(join(m, 'etc/chmod'), 0o600);
      await appendFile(join(m, 'etc/grow'), 'y');
      await rm(join(m, 'etc/sym'));
      await symlink('chmod', join(m, 'etc/sym'));
      await writeFile(join(m, 'new'), 'n');
      await d.put('c');

      const upper = join(home, 'c', 'diff');
      if (form === 'files') {
        expect(kindOf(join(upper, 'etc/.wh.gone'))).toBe('file 0');
        expect(kindOf(join(upper, 'etc/gone'))).toBe('none');
      } else {
        expect(kindOf(join(upper, 'etc/gone'))).toBe('char 0');
      }
      const got = await nativeAndNaive(d, b, 'c', 'p');
      expect(got.native).toEqual(got.naive);
      expect(got.native).toEqual([
        'C /etc',
        'C /etc/chmod',
        'D /etc/gone',
        'C /etc/grow',
        'C /etc/sym',
        'D /gone-dir',
        'C /mv',
        'D /mv/from',
        'A /mv/to',
        'A /new',
        'C /opq',
        'C /opq/a',
        'D /opq/sub',
      ]);
      expect(blankWhiteoutTimes(got.tar).equals(blankWhiteoutTimes(got.naiveTar)), 'tar differs from the naive export').toBe(true);

      // a grandchild over those whiteouts: deleting what the child brought back
      await d.create('g', 'c');
      const g = await d.get('g');
      await rm(join(g, 'opq/a'));
      await rm(join(g, 'mv'), { recursive: true });
      await writeFile(join(g, 'etc/gone'), 'back');
      await d.put('g');
      const second = await nativeAndNaive(d, b, 'g', 'c');
      expect(second.native).toEqual(second.naive);
      expect(second.native).toEqual(['C /etc', 'A /etc/gone', 'D /mv', 'C /opq', 'D /opq/a']);
      expect(blankWhiteoutTimes(second.tar).equals(blankWhiteoutTimes(second.naiveTar))).toBe(true);
      expect(b.diffStats.naive).toBe(0);
    });
  }

  it('applies a root-owned Docker layer with whiteouts and an opaque dir as .wh. files (no mknod), shows it through fuse-overlayfs, and diffs it back byte-identical', async () => {
    const { d, b, home } = await start();
    await d.create('p', null);
    const { parent: parentTar, layer, changes: wantChanges } = await dockerWhiteoutLayers();
    await d.applyDiff('p', null, Readable.from([parentTar]));
    // chown to root failed and was tolerated: the content is the user's
    expect(lstatSync(join(home, 'p', 'diff', 'etc/keep')).uid).toBe(uid);

    await d.create('c', 'p');
    await d.applyDiff('c', 'p', Readable.from([layer]));
    const upper = join(home, 'c', 'diff');
    expect(kindOf(join(upper, 'etc/.wh.gone'))).toBe('file 0');
    expect(kindOf(join(upper, 'etc/gone'))).toBe('none');
    expect(kindOf(join(upper, 'opq/.wh..wh..opq'))).toBe('file 0');

    // what fuse-overlayfs shows: the whiteouts hide, the markers are not entries
    const m = await d.get('c');
    try {
      const { readdir, readFile } = await import('node:fs/promises');
      expect((await readdir(join(m, 'etc'))).sort()).toEqual(['keep']);
      expect((await readdir(join(m, 'opq'))).sort()).toEqual(['a', 'n']);
      expect(await readFile(join(m, 'opq/a'), 'utf8')).toBe('a, new');
    } finally {
      await d.put('c');
    }

    const got = await nativeAndNaive(d, b, 'c', 'p');
    expect(got.native).toEqual(got.naive);
    expect(got.native).toEqual(wantChanges);
    expect(blankWhiteoutTimes(got.tar).equals(blankWhiteoutTimes(got.naiveTar))).toBe(true);

    // our own diff, applied to another child of the same parent, diffs back byte-identical
    await d.create('c2', 'p');
    await d.applyDiff('c2', 'p', Readable.from([got.tar]));
    const again = await collect(await d.diff('c2', 'p'));
    expect(blankWhiteoutTimes(again).equals(blankWhiteoutTimes(got.tar))).toBe(true);
    expect(b.diffStats.naive).toBe(0);
  });
});
