// The driver conformance suite: Docker's graphtest re-created over our Driver contract,
// plus the edges core promises for every driver (ids, parents, references, locking,
// recovery). A driver package calls describeConformance(target) from a vitest test file:
//
//   import { describeConformance } from '@graphdriver/core/testing';
//   import { init } from './index.js';
//   describeConformance({
//     name: 'mydriver on ext4',
//     makeHome: () => mkdtemp('/var/tmp/mydriver-'),
//     init: (home, options = []) => init(home, options),
//     quota: 'unsupported',
//   });
//
// Each case gets a home of its own from makeHome, initialises the driver over it, and at
// the end cleans the driver up, checks nothing is left mounted and deletes the home.
import { randomBytes } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ChangeKind, type Change, type Driver } from '../driver.js';
import { errnoCode, ErrorCode } from '../errors.js';
import { mknod } from '../fs/mknod.js';
import { baseDirMode, baseEntries, baseFileMode, otherOwner, richEntries, rootOwner, type Identity } from './fixture-trees.js';
import { buildTree, compareTrees, listTree, randomContent, removeTree, snapshotTree, type Owner } from './fixtures.js';
import {
  addFile,
  addLayerFiles,
  addManyFiles,
  changeManyFiles,
  checkManyFiles,
  checkManyLayers,
  randomId,
  readLayerFile,
  removeAll,
  sortedChanges,
  withLayer,
} from './layer-helpers.js';
import { assertNothingMountedUnder } from './mounts.js';

/** A driver set up for {@link describeConformance}: how to get a home and open the driver on it. */
export interface ConformanceTarget {
  /** Names the vitest suite ("vfs on ext4"); also used to derive a layer id. */
  name: string;
  /** A fresh, empty home on the backing filesystem for one test group. */
  makeHome(): Promise<string>;
  /** Initialise the driver over `home` (calling it again on the same home = re-init). */
  init(home: string, options?: string[]): Promise<Driver>;
  /**
   * What a `size` storage option must do: 'required' be enforced, 'unsupported' fail with
   * ERR_QUOTA_NOT_SUPPORTED and leave nothing, 'optional' either (the log says which).
   */
  quota: 'required' | 'optional' | 'unsupported';
  /** Running as non-root: ownership/device checks are relaxed as a rootless driver must. */
  rootless?: boolean;
  /** After cleanup: assert nothing is left mounted/active (default: nothing in /proc/self/mountinfo under home). */
  assertNothingMounted?(home: string): Promise<void>;
  /** Deletes a home after its test (default: rm -rf, opening read-only directories first). */
  removeHome?(home: string): Promise<void>;
  /** Layers in the deep-read chain (default 64). */
  deepLayers?: number;
  /**
   * Writing one name of a hardlinked file from a lower layer breaks the link (overlayfs
   * without its index feature, as Docker's overlay2 mounts it): the other names keep the
   * old content, and the diff carries the written name alone.
   */
  copyUpBreaksHardlinks?: boolean;
  /** Per-test timeout in ms (default 300 000: slow backends, VMs). */
  timeout?: number;
}

/** One test's driver over its own home; extra drivers made by re-init are cleaned up too. */
class Session {
  readonly drivers: Driver[] = [];
  constructor(
    readonly target: ConformanceTarget,
    readonly home: string,
  ) {}
  get driver(): Driver {
    return this.drivers[0];
  }
  async init(options?: string[]): Promise<Driver> {
    const d = await this.target.init(this.home, options);
    this.drivers.push(d);
    return d;
  }
  async assertNothingMounted(): Promise<void> {
    await (this.target.assertNothingMounted ?? assertNothingMountedUnder)(this.home);
  }
}

async function withSession(target: ConformanceTarget, fn: (s: Session, d: Driver) => Promise<void>): Promise<void> {
  const home = await target.makeHome();
  const s = new Session(target, home);
  let failure: unknown;
  let failed = false;
  try {
    const d = await s.init();
    await fn(s, d);
  } catch (err) {
    failure = err;
    failed = true;
  }
  try {
    for (const d of s.drivers.reverse()) await d.cleanup();
    await s.assertNothingMounted();
  } catch (err) {
    if (!failed) {
      failure = err;
      failed = true;
    }
  }
  await (target.removeHome ?? removeTree)(home).catch((err) => {
    if (!failed) {
      failure = err;
      failed = true;
    }
  });
  if (failed) throw failure;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

async function verifyFile(path: string, type: 'dir' | 'file', mode: number, owner: Owner): Promise<void> {
  const st = await lstat(path);
  expect(type === 'dir' ? st.isDirectory() : st.isFile(), `${path} is a ${type}`).toBe(true);
  expect((st.mode & 0o7777).toString(8), `${path} mode`).toBe(mode.toString(8));
  expect(`${st.uid}:${st.gid}`, `${path} owner`).toBe(`${owner.uid}:${owner.gid}`);
}

/** readdir without ext4/xfs's lost+found, as graphtest's readDir. */
async function entriesOf(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n !== 'lost+found').sort();
}

async function createBase(d: Driver, id: Identity, name: string, parent: string | null = null): Promise<void> {
  await d.createReadWrite(name, parent);
  await withLayer(d, name, (root) => buildTree(root, baseEntries(id)));
}

async function verifyBase(d: Driver, id: Identity, name: string, expectedEntries = 2): Promise<void> {
  await withLayer(d, name, async (root) => {
    await verifyFile(join(root, 'a subdir'), 'dir', baseDirMode, otherOwner(id));
    await verifyFile(join(root, 'a file'), 'file', baseFileMode(id), rootOwner(id));
    expect(await entriesOf(root)).toHaveLength(expectedEntries);
  });
}

const snapshotOf = (d: Driver, name: string) => withLayer(d, name, (root) => snapshotTree(root));

/** Paths of a snapshot as "A /path" lines: what changes(id, nothing) must list. */
function allAdds(snap: Map<string, unknown>): string[] {
  return sortedChanges([...snap.keys()].filter((p) => p !== '/').map((path) => ({ path, kind: ChangeKind.Add })));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What a conformance case runs with: its own driver over a fresh home, and the target. */
interface CaseContext {
  s: Session;
  d: Driver;
  target: ConformanceTarget;
  ident: Identity;
  /** Layers in the deep-chain cases (target.deepLayers, default 64). */
  deep: number;
}

/** One named case of the suite (as containerd's snapshots testsuite lists its cases). */
interface ConformanceCase {
  /** The test's name; a function when it names a figure of the target. */
  name: string | ((c: { deep: number; target: ConformanceTarget }) => string);
  run(c: CaseContext): Promise<void>;
}

/** The suite, case by case; describeConformance runs each in its own session (withSession). */
const CASES: readonly ConformanceCase[] = [
  {
    name: 'create-empty: a new layer exists, is an empty 0755 directory owned by root',
    run: async ({ d, ident }) => {
      await d.create('empty', null);
      expect(await d.exists('empty')).toBe(true);
      await withLayer(d, 'empty', async (root) => {
        await verifyFile(root, 'dir', 0o755, rootOwner(ident));
        expect(await entriesOf(root)).toEqual([]);
      });
      await d.remove('empty');
      expect(await d.exists('empty')).toBe(false);
    },
  },
  {
    name: 'create-base: a sticky 0705 directory owned 1:2 and a setuid 0222 file survive',
    run: async ({ d, ident }) => {
      await createBase(d, ident, 'Base');
      await verifyBase(d, ident, 'Base');
      await d.remove('Base');
    },
  },
  {
    name: 'create-snap: a child sees the same modes, owners, xattrs, links and times, and is its own copy',
    run: async ({ d, ident }) => {
      await createBase(d, ident, 'Base');
      await withLayer(d, 'Base', (root) => buildTree(root, richEntries(ident)));
      const base = await snapshotOf(d, 'Base');

      await d.create('Snap', 'Base');
      const topLevel = [...base.keys()].filter((p) => p !== '/' && p.lastIndexOf('/') === 0 && p !== '/lost+found');
      await verifyBase(d, ident, 'Snap', topLevel.length);
      const snap = await snapshotOf(d, 'Snap');
      expect(compareTrees(base, snap, { mtime: 'ns' })).toEqual([]);
      // hardlinks: one inode within the child
      expect(snap.get('/bin/tool')!.inode).toBe(snap.get('/bin/tool-link')!.inode);
      // exact enough that the naive diff sees nothing
      expect(sortedChanges(await d.changes('Snap', 'Base'))).toEqual([]);
      expect(sortedChanges(await d.changes('Snap', null))).toEqual(allAdds(snap));

      // the child is a copy: writing it leaves the parent alone
      await withLayer(d, 'Snap', async (root) => {
        await writeFile(join(root, 'bin/tool'), 'changed in Snap');
        await writeFile(join(root, 'big'), 'changed too', { flag: 'r+' });
        await rm(join(root, 'etc/passwd'));
      });
      expect(compareTrees(base, await snapshotOf(d, 'Base'), { mtime: 'ns' })).toEqual([]);

      await expectCode(d.remove('Base'), ErrorCode.LayerBusy);
      await d.remove('Snap');
      await d.remove('Base');
    },
  },
  {
    name: ({ deep }) => `deep layer read: a file at the bottom of ${deep} layers is readable at the top`,
    run: async ({ d, deep }) => {
      const base = randomId();
      await d.create(base, null);
      await addFile(d, base, 'testfile.txt', 'test content');
      let top = base;
      for (let i = 1; i <= deep; i++) {
        const next = randomId();
        await d.create(next, top);
        await addLayerFiles(d, next, top, i);
        top = next;
      }
      await checkManyLayers(d, top, deep);
      expect((await readLayerFile(d, top, 'testfile.txt')).toString()).toBe('test content');
      expect((await d.list()).length).toBe(deep + 1);
    },
  },
  {
    name: 'diff-apply: the diff of upper over base, applied on a fresh child of base, reproduces upper',
    run: async ({ d }) => {
      const fileCount = 250;
      const base = randomId();
      const upper = randomId();
      const diffLayer = randomId();
      const deleteFile = 'file-remove.txt';
      const deleteContent = 'This file should get removed in upper!';
      const deleteDir = 'var/lib';

      await d.create(base, null);
      await addManyFiles(d, base, fileCount, 3);
      await addFile(d, base, deleteFile, deleteContent);
      await withLayer(d, base, (root) => mkdir(join(root, deleteDir), { recursive: true, mode: 0o755 }));

      await d.create(upper, base);
      // one byte longer than base's: a change that does not hang on the clock's resolution
      await addManyFiles(d, upper, fileCount, 6, 65);
      await removeAll(d, upper, deleteFile, deleteDir);

      const diffSizeAll = await d.diffSize(upper, null);
      const diffSize = await d.diffSize(upper, base);

      await d.create(diffLayer, base);
      await checkManyFiles(d, diffLayer, fileCount, 3);
      expect((await readLayerFile(d, diffLayer, deleteFile)).toString()).toBe(deleteContent);

      const tar = await collect(await d.diff(upper, base));
      const applied = await d.applyDiff(diffLayer, base, Readable.from([tar]));
      // graphtest's check: every regular file of upper is in the diff, so both agree
      expect(applied).toBe(diffSizeAll);
      expect(applied).toBe(diffSize);
      expect(applied).toBe(fileCount * 65);

      await checkManyFiles(d, diffLayer, fileCount, 6, 65);
      await withLayer(d, diffLayer, async (root) => {
        await expect(lstat(join(root, deleteFile))).rejects.toMatchObject({ code: 'ENOENT' });
        await expect(lstat(join(root, deleteDir))).rejects.toMatchObject({ code: 'ENOENT' });
      });
      expect(compareTrees(await snapshotOf(d, upper), await snapshotOf(d, diffLayer), { mtime: 'seconds' })).toEqual([]);
      expect(await d.list()).toEqual([base, upper, diffLayer].sort());
    },
  },
  {
    name: 'diff-apply of a rich tree: owners, modes, symlinks, hardlinks, xattrs and special files come through',
    run: async ({ d, ident, target }) => {
      await d.create('base', null);
      await withLayer(d, 'base', (root) => buildTree(root, [...baseEntries(ident), ...richEntries(ident)]));
      await d.create('upper', 'base');
      await withLayer(d, 'upper', async (root) => {
        await buildTree(root, [
          { type: 'dir', path: 'new/dir', mode: 0o710, owner: otherOwner(ident) },
          { type: 'file', path: 'new/dir/f', content: 'f', mode: 0o640, xattrs: { 'user.new': 'yes' } },
          { type: 'file', path: 'new/h1', content: randomContent(300, 5), mode: 0o644 },
          { type: 'hardlink', path: 'new/h2', target: 'new/h1' },
          { type: 'symlink', path: 'new/link', target: '../etc/passwd' },
          { type: 'fifo', path: 'new/fifo', mode: 0o620 },
        ]);
        if (!ident.rootless) await mknod(join(root, 'new/zero'), 'char', { mode: 0o666, major: 1, minor: 5 });
        await chmod(join(root, 'etc/passwd'), 0o600);
        if (!ident.rootless) await lchown(join(root, 'etc/shadow'), 3, 4);
        await writeFile(join(root, 'bin/tool'), 'rewritten: longer than nothing, shorter than before');
        await rm(join(root, 'bin/sh'));
        await symlink('tool-link', join(root, 'bin/sh'));
        await rm(join(root, 'run/fifo'));
        await rm(join(root, 'var'), { recursive: true });
      });
      const tar = await collect(await d.diff('upper', 'base'));
      await d.create('applied', 'base');
      await d.applyDiff('applied', 'base', Readable.from([tar]));
      const want = await snapshotOf(d, 'upper');
      const got = await snapshotOf(d, 'applied');
      expect(compareTrees(want, got, { mtime: 'seconds' })).toEqual([]);
      if (target.copyUpBreaksHardlinks) {
        expect(got.get('/bin/tool')!.inode).not.toBe(got.get('/bin/tool-link')!.inode);
        expect(got.get('/bin/tool-link')!.sha256).not.toBe(got.get('/bin/tool')!.sha256);
      } else {
        expect(got.get('/bin/tool')!.inode).toBe(got.get('/bin/tool-link')!.inode);
      }
      expect(got.get('/new/h1')!.inode).toBe(got.get('/new/h2')!.inode);
    },
  },
  {
    name: 'changes: the exact list over many files with adds, modifies, deletes and deleted directories',
    run: async ({ d, ident }) => {
      const count = 250;
      const base = randomId();
      const upper = randomId();
      await d.create(base, null);
      await addManyFiles(d, base, count, 3);
      await withLayer(d, base, (root) =>
        buildTree(root, [
          { type: 'file', path: 'gone/a', content: 'a' },
          { type: 'file', path: 'gone/sub/b', content: 'b' },
          { type: 'file', path: 'keep/gone-dir/x', content: 'x' },
          { type: 'file', path: 'keep/stay', content: 'stay' },
          { type: 'file', path: 'modes-file', content: 'm', mode: 0o644 },
          { type: 'file', path: 'owner-file', content: 'o', mode: 0o644 },
        ]),
      );
      expect(sortedChanges(await d.changes(base, null))).toEqual(allAdds(await snapshotOf(d, base)));

      await d.create(upper, base);
      const expected: Change[] = await changeManyFiles(d, upper, count, 6);
      await withLayer(d, upper, async (root) => {
        await rm(join(root, 'gone'), { recursive: true });
        await rm(join(root, 'keep/gone-dir'), { recursive: true });
        await chmod(join(root, 'modes-file'), 0o600);
        await buildTree(root, [
          { type: 'file', path: 'added/sub/f', content: 'new' },
          { type: 'symlink', path: 'added-link', target: 'added/sub/f' },
        ]);
        if (!ident.rootless) await lchown(join(root, 'owner-file'), 5, 6);
      });
      const M = ChangeKind.Modify;
      const A = ChangeKind.Add;
      const D = ChangeKind.Delete;
      expected.push(
        { path: '/gone', kind: D },
        { path: '/keep', kind: M },
        { path: '/keep/gone-dir', kind: D },
        { path: '/modes-file', kind: M },
        { path: '/added', kind: A },
        { path: '/added/sub', kind: A },
        { path: '/added/sub/f', kind: A },
        { path: '/added-link', kind: A },
      );
      if (!ident.rootless) expected.push({ path: '/owner-file', kind: M });
      expect(sortedChanges(await d.changes(upper, base))).toEqual(sortedChanges(expected));
    },
  },
  {
    name: ({ target }) => `quota: size on a read-write layer (${target.quota})`,
    run: async ({ d, ident, target }) => {
      await createBase(d, ident, 'Base');
      const layer = `${target.name.replace(/[^A-Za-z0-9_.-]/g, '_')}Test`;
      const attempt = d.createReadWrite(layer, 'Base', { storageOpt: { size: '50M' } });
      if (target.quota === 'unsupported') {
        await expectCode(attempt, ErrorCode.QuotaNotSupported);
        expect(await d.exists(layer)).toBe(false);
        expect(await d.list()).toEqual(['Base']);
        return;
      }
      if (target.quota === 'optional') {
        try {
          await attempt;
        } catch (err) {
          expect(err).toMatchObject({ code: ErrorCode.QuotaNotSupported });
          console.info(`[conformance ${target.name}] quota: not supported here (${(err as Error).message})`);
          return;
        }
        console.info(`[conformance ${target.name}] quota: supported here; checking the limit`);
      } else {
        await attempt;
      }
      await withLayer(d, layer, async (root) => {
        const MiB = 1 << 20;
        await writeFile(join(root, 'smallfile'), randomBytes(25 * MiB));
        let failure: unknown;
        try {
          await writeFile(join(root, 'bigfile'), randomBytes(50 * MiB));
        } catch (err) {
          failure = err;
        }
        expect(failure, 'writing 50 MiB more than half of a 50 MiB quota must fail').toBeDefined();
        expect(['EDQUOT', 'ENOSPC']).toContain(errnoCode(failure));
        await rm(join(root, 'bigfile'), { force: true });
      });
      await d.remove(layer);
      await d.remove('Base');
    },
  },
  {
    name: 'list returns exactly the complete layers',
    run: async ({ d }) => {
      expect(await d.list()).toEqual([]);
      await d.create('a', null);
      await d.create('b', 'a');
      await d.createReadWrite('c', 'b');
      expect(await d.list()).toEqual(['a', 'b', 'c']);
      // a layer whose applyDiff failed is not complete
      await d.create('broken', 'a');
      await expect(d.applyDiff('broken', 'a', Readable.from([Buffer.from('this is not a tar archive'.repeat(40))]))).rejects.toThrow();
      expect(await d.list()).toEqual(['a', 'b', 'c']);
      expect(await d.exists('broken')).toBe(false);
      await d.remove('c');
      expect(await d.list()).toEqual(['a', 'b']);
    },
  },
  {
    name: 'get/put are reference counted: two gets need two puts before remove',
    run: async ({ d }) => {
      await d.create('r', null);
      const p1 = await d.get('r');
      const p2 = await d.get('r');
      expect(p2).toBe(p1);
      await d.put('r');
      await expectCode(d.remove('r'), ErrorCode.LayerBusy);
      expect(await d.exists('r')).toBe(true);
      await d.put('r');
      await d.remove('r');
      expect(await d.exists('r')).toBe(false);
    },
  },
  {
    name: 'remove of a layer that has children is refused',
    run: async ({ d }) => {
      await d.create('parent', null);
      await d.create('child', 'parent');
      await expectCode(d.remove('parent'), ErrorCode.LayerBusy);
      expect(await d.list()).toEqual(['child', 'parent']);
      await d.remove('child');
      await d.remove('parent');
      expect(await d.list()).toEqual([]);
    },
  },
  {
    name: 'invalid ids are refused on create, get and remove',
    run: async ({ s, d }) => {
      await d.create('good', null);
      const before = await listTree(s.home);
      const bad = ['', '.', '..', 'a/b', 'a\0b', 'x'.repeat(129), 'bad id!', 'a:b', 'a,b', '-rf', '.hidden'];
      for (const id of bad) {
        await expectCode(d.create(id, null), ErrorCode.InvalidId);
        await expectCode(d.createReadWrite(id, 'good'), ErrorCode.InvalidId);
        await expectCode(d.get(id), ErrorCode.InvalidId);
        await expectCode(d.remove(id), ErrorCode.InvalidId);
        // '' as a parent means "no parent"
        if (id !== '') await expectCode(d.create('other', id), ErrorCode.InvalidId);
      }
      expect(await d.list()).toEqual(['good']);
      expect(await listTree(s.home)).toEqual(before);
    },
  },
  {
    name: 'an unknown parent or layer is not found, and leaves nothing behind',
    run: async ({ s, d }) => {
      await d.create('known', null);
      const before = await listTree(s.home);
      await expectCode(d.create('child', 'missing'), ErrorCode.LayerNotFound);
      await expectCode(d.createReadWrite('child', 'missing'), ErrorCode.LayerNotFound);
      expect(await d.exists('child')).toBe(false);
      await expectCode(d.get('missing'), ErrorCode.LayerNotFound);
      await expectCode(d.remove('missing'), ErrorCode.LayerNotFound);
      expect(await d.list()).toEqual(['known']);
      expect(await listTree(s.home)).toEqual(before);
    },
  },
  {
    name: 'creating an existing id is refused and leaves the layer alone',
    run: async ({ d }) => {
      await d.create('dup', null);
      await addFile(d, 'dup', 'marker', 'original');
      await expectCode(d.create('dup', null), ErrorCode.LayerExists);
      await expectCode(d.createReadWrite('dup', null), ErrorCode.LayerExists);
      expect((await readLayerFile(d, 'dup', 'marker')).toString()).toBe('original');
      expect(await d.list()).toEqual(['dup']);
    },
  },
  {
    name: 'cleanup leaves nothing mounted, and a re-init starts with no references',
    run: async ({ s, d }) => {
      await d.create('a', null);
      await d.create('b', 'a');
      await d.get('a');
      await d.get('a');
      await d.get('b');
      await d.cleanup();
      await s.assertNothingMounted();
      const d2 = await s.init();
      expect(await d2.list()).toEqual(['a', 'b']);
      await d2.remove('b');
      await d2.remove('a');
    },
  },
  {
    name: 'a re-init over the same home sees the same layers with the same content',
    run: async ({ s, d, ident }) => {
      await d.create('base', null);
      await withLayer(d, 'base', (root) => buildTree(root, [...baseEntries(ident), ...richEntries(ident)]));
      await d.create('child', 'base');
      await addFile(d, 'child', 'child-file', 'child');
      await d.createReadWrite('rw', 'child');
      await addFile(d, 'rw', 'rw-file', randomContent(10_000, 1));
      const snaps = new Map<string, Awaited<ReturnType<typeof snapshotTree>>>();
      for (const id of ['base', 'child', 'rw']) snaps.set(id, await snapshotOf(d, id));
      await d.cleanup();

      const d2 = await s.init();
      expect(await d2.list()).toEqual(['base', 'child', 'rw']);
      for (const id of ['base', 'child', 'rw']) {
        expect(await d2.exists(id)).toBe(true);
        expect(compareTrees(snaps.get(id)!, await snapshotOf(d2, id), { mtime: 'ns' }), id).toEqual([]);
      }
      expect(sortedChanges(await d2.changes('rw', 'child'))).toEqual(['A /rw-file']);
    },
  },
  {
    name: 'a second init over a home in use is refused with ERR_STORE_BUSY',
    run: async ({ s, d }) => {
      await d.create('mine', null);
      await expectCode(s.target.init(s.home), ErrorCode.StoreBusy);
      // the first driver is not disturbed
      await d.create('still-mine', 'mine');
      expect(await d.list()).toEqual(['mine', 'still-mine']);
      await d.cleanup();
      const d2 = await s.init();
      expect(await d2.list()).toEqual(['mine', 'still-mine']);
    },
  },
  {
    name: 'a failed create leaves the store as it was',
    run: async ({ s, d, target }) => {
      await d.create('p', null);
      await addFile(d, 'p', 'payload', randomBytes(4 << 20));
      const before = await listTree(s.home);
      const list = await d.list();

      await expectCode(d.create('x', 'missing'), ErrorCode.LayerNotFound);
      await expectCode(d.create('p', null), ErrorCode.LayerExists);
      await expectCode(d.createReadWrite('y', 'p', { storageOpt: { 'no-such-option': '1' } }), ErrorCode.InvalidOption);
      await expectCode(d.create('.', 'p'), ErrorCode.InvalidId);
      if (target.quota === 'unsupported') {
        await expectCode(d.createReadWrite('z', 'p', { storageOpt: { size: '50M' } }), ErrorCode.QuotaNotSupported);
      } else {
        // a quota smaller than the parent: a copying driver fails half way through
        try {
          await d.createReadWrite('z', 'p', { storageOpt: { size: '1M' } });
          console.info(`[conformance ${target.name}] a 1M layer over a 4 MiB parent was created (no copy is made)`);
          await d.remove('z');
        } catch (err) {
          console.info(`[conformance ${target.name}] a 1M layer over a 4 MiB parent failed: ${(err as Error).message}`);
        }
      }
      expect(await d.list()).toEqual(list);
      expect(await listTree(s.home)).toEqual(before);
    },
  },
];

/**
 * Declares the conformance suite for one driver (vitest `describe`/`it`; call it at the top
 * level of a test file): Docker's graphtest cases plus the edges core promises for every
 * driver (ids, parents, references, locking, recovery, diffs round-tripped byte for byte). Each
 * case gets a home from `target.makeHome`, and cleans up, checks nothing is left mounted and
 * removes the home afterwards, whether it passed or not.
 *
 * @example
 * ```ts
 * import { describeConformance } from '@graphdriver/core/testing';
 * import { init } from './index.js';
 * describeConformance({
 *   name: 'mydriver on ext4',
 *   makeHome: () => mkdtemp('/var/tmp/mydriver-'),
 *   init: (home, options = []) => init(home, options),
 *   quota: 'unsupported',
 * });
 * ```
 */
export function describeConformance(target: ConformanceTarget): void {
  const ident: Identity = {
    rootless: target.rootless ?? false,
    me: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
  };
  const timeout = target.timeout ?? 300_000;
  const deep = target.deepLayers ?? 64;

  describe(`driver conformance: ${target.name}`, () => {
    for (const c of CASES) {
      const name = typeof c.name === 'string' ? c.name : c.name({ deep, target });
      it(name, () => withSession(target, (s, d) => c.run({ s, d, target, ident, deep })), timeout);
    }
  });
}
