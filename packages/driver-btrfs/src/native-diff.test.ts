// The native diff (btrfs send) must give exactly what core's naive diff gives: the same
// change list, the same tar. Checked on seeded random trees and edits, and on the cases
// where the native path must step aside.
import { appendFile, chmod, lchown, link, lstat, mkdir, readdir, readFile, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { changesDirs, exportChanges, formatChange, readTar, tool, type Change, type Driver } from '@graphdriver/core';
import { requireReference } from '@graphdriver/core/testing';
import type { BtrfsBackend } from './backend.js';
import { createBtrfs } from './btrfs.js';
import { openBtrfs } from './init.js';
import { buildRandomTree, Rand, randomEdits } from '@graphdriver/core/testing';
import { btrfsAvailable, useLoopbackBtrfs } from './test-support/loopback-btrfs.js';

const btrfs = createBtrfs();
const mknod = tool('mknod');
const setfattr = tool('setfattr');
const cp = tool('cp');

// The Debian trees core's interop suite uses (tools/corpus).
const CORPUS = requireReference('corpus', "native-diff.test.ts's Debian corpus case");

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const lines = (changes: Change[]) => changes.map(formatChange);

/**
 * A copy of a tar with the time fields of whiteout entries (and of their PAX headers)
 * blanked: Docker stamps whiteouts with the time of the export.
 */
function maskWhiteoutTimes(tar: Buffer): Buffer {
  const out = Buffer.from(tar);
  let pax = -1;
  for (let off = 0; off + 512 <= out.length; ) {
    const header = out.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]);
    let name = header.toString('utf8', 0, 100).replace(/\0.*$/s, '');
    if (type === 'x') {
      pax = off;
    } else {
      const m = pax >= 0 ? /\d+ path=([^\n]*)\n/.exec(out.toString('utf8', pax + 512, pax + 512 + 4096)) : null;
      if (m) name = m[1];
      if (name.split('/').pop()!.startsWith('.wh.')) {
        for (const h of pax >= 0 ? [pax, off] : [off]) out.fill(0, h + 136, h + 156);
      }
      pax = -1;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe.runIf(btrfsAvailable)('native diff vs naive diff', () => {
  const lb = useLoopbackBtrfs();
  let open: { driver: Driver; backend: BtrfsBackend } | undefined;
  afterEach(async () => {
    await open?.driver.cleanup();
    open = undefined;
  });

  async function start(): Promise<{ d: Driver; b: BtrfsBackend }> {
    open = await openBtrfs(await lb.makeHome());
    return { d: open.driver, b: open.backend };
  }

  /** Native changes of (id, parent), which must have been answered natively, and the naive ones. */
  async function both(d: Driver, b: BtrfsBackend, id: string, parent: string) {
    const before = b.diffStats.native;
    const native = await d.changes(id, parent);
    expect(b.diffStats.native, `native path declined: ${b.diffStats.lastFallback}`).toBe(before + 1);
    const naive = await changesDirs(b.path(id), b.path(parent));
    return { native: lines(native), naive: lines(naive) };
  }

  // BTRFS_DIFF_ROUNDS=500 for a longer search; BTRFS_DIFF_SEED to start elsewhere
  const rounds = Number(process.env.BTRFS_DIFF_ROUNDS ?? 40);
  const seed0 = Number(process.env.BTRFS_DIFF_SEED ?? 1000);

  it(`equals the naive diff over ${rounds} rounds of random trees and random edits`, async () => {
    const { d, b } = await start();
    let nonEmpty = 0;
    for (let round = 0; round < rounds; round++) {
      const r = new Rand(seed0 + round);
      const base = `base-${round}`;
      const child = `child-${round}`;
      const grand = `grand-${round}`;
      await d.create(base, null);
      await buildRandomTree(b.path(base), r, 60 + r.int(120));
      await d.create(child, base);
      const log = await randomEdits(b.path(child), r, 1 + r.int(30));
      // sometimes the parent changes too after the snapshot (inode numbers may then collide)
      if (r.chance(0.25)) log.push('parent:', ...(await randomEdits(b.path(base), r, 1 + r.int(8))));
      const first = await both(d, b, child, base);
      expect(first.native, `round ${round}: ${log.join('; ')}`).toEqual(first.naive);
      if (first.naive.length) nonEmpty++;

      // a second generation: edits on a snapshot of an edited snapshot
      await d.createReadWrite(grand, child);
      const log2 = await randomEdits(b.path(grand), r, 1 + r.int(20));
      const second = await both(d, b, grand, child);
      expect(second.native, `round ${round} (grandchild): ${log2.join('; ')}`).toEqual(second.naive);

      // not the direct parent: the native path declines and core's naive answer comes back
      const fallbacks = b.diffStats.fallback;
      expect(lines(await d.changes(grand, base))).toEqual(lines(await changesDirs(b.path(grand), b.path(base))));
      expect(b.diffStats.fallback).toBe(fallbacks + 1);

      for (const id of [grand, child, base]) await d.remove(id);
    }
    expect(nonEmpty).toBeGreaterThan(rounds * 0.75);
  }, 1_800_000);

  it('gives the same tar as the naive export', async () => {
    const { d, b } = await start();
    for (let round = 0; round < 4; round++) {
      const r = new Rand(77 + round);
      await d.create(`p${round}`, null);
      await buildRandomTree(b.path(`p${round}`), r, 120);
      await d.create(`c${round}`, `p${round}`);
      await randomEdits(b.path(`c${round}`), r, 25);
      const before = b.diffStats.native;
      const tar = await collect(await d.diff(`c${round}`, `p${round}`));
      expect(b.diffStats.native).toBe(before + 1);
      const naive = await changesDirs(b.path(`c${round}`), b.path(`p${round}`));
      expect(naive.length).toBeGreaterThan(0);
      const want = await collect(exportChanges(b.path(`c${round}`), naive));
      expect(maskWhiteoutTimes(tar).equals(maskWhiteoutTimes(want)), `round ${round}: tar differs`).toBe(true);
    }
    // the read-only snapshots of the diffs are gone
    await b.native.settle();
    expect(await readdir(b.tmpDir)).toEqual([]);
  });

  it('keeps a read-only snapshot per layer while it is current, and replaces it when not', async () => {
    const { d, b } = await start();
    const r = new Rand(seed0 + 3242);
    await d.create('p', null);
    await buildRandomTree(b.path('p'), r, 100);
    await d.create('c', 'p');
    await randomEdits(b.path('c'), r, 10);
    const counts = () => ({ made: b.diffStats.snapshotsMade, reused: b.diffStats.snapshotsReused });
    const nativeOnly = async () => {
      const before = b.diffStats.native;
      const got = lines(await d.changes('c', 'p'));
      expect(b.diffStats.native, `native path declined: ${b.diffStats.lastFallback}`).toBe(before + 1);
      return got;
    };
    /** Native twice (the second must reuse both snapshots: nothing wrote to the layers), then naive. */
    const check = async (what: string) => {
      const first = await nativeOnly();
      const c0 = counts();
      expect(await nativeOnly(), what).toEqual(first);
      expect(counts(), `${what}: nothing changed, both snapshots reused`).toEqual({ made: c0.made, reused: c0.reused + 2 });
      expect(first, what).toEqual(lines(await changesDirs(b.path('c'), b.path('p'))));
      return first;
    };

    let c0 = counts();
    await check('first diff');
    expect(counts().made).toBe(c0.made + 2);
    for (let k = 0; k < Math.max(18, rounds); k++) {
      c0 = counts();
      let what: string;
      switch (k % 6) {
        case 0:
          what = `child edited: ${(await randomEdits(b.path('c'), r, 1 + r.int(6))).join('; ')}`;
          break;
        case 1:
          what = `parent edited: ${(await randomEdits(b.path('p'), r, 1 + r.int(4))).join('; ')}`;
          break;
        case 2: {
          // a snapshot of the child (a new layer on it) moves its generation, not its content
          await d.create(`g${k}`, 'c');
          what = 'child snapshotted';
          break;
        }
        case 3: {
          // written just now and not synced: the data is only in the page cache
          const f = join(b.path('c'), `late-${k}`);
          await writeFile(f, 'x');
          await appendFile(f, 'more');
          what = 'child written just before the diff';
          break;
        }
        case 4:
          await chmod(b.path('c'), 0o700 + k);
          what = 'root of the child chmod-ed';
          break;
        default:
          what = 'nothing';
      }
      const got = await check(`step ${k}: ${what}`);
      if (k % 6 === 3) expect(got).toContain(`A /late-${k}`);
      if (k % 6 === 2) expect(counts().made).toBeGreaterThan(c0.made);
    }
    for (const id of (await d.list()).filter((l) => l.startsWith('g'))) await d.remove(id);
    // removing the layers takes their snapshots along
    await d.remove('c');
    await d.remove('p');
    await b.native.settle();
    expect(await readdir(b.snapshotsDir)).toEqual([]);
    expect(b.native.keptCount).toBe(0);
  }, 600_000);

  it('never uses a kept snapshot that is no longer what it was made as', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    await writeFile(join(b.path('p'), 'f'), 'x');
    await d.create('c', 'p');
    await writeFile(join(b.path('c'), 'g'), 'y');
    // native only: a naive walk would write directory atimes into both layers
    expect(lines(await d.changes('c', 'p'))).toEqual(['A /g']);
    // made writable, written, made read-only again: its generation moved past its creation
    const child = await btrfs.subvolumeShow(b.path('c'));
    let snap = '';
    for (const name of await readdir(b.snapshotsDir)) {
      if ((await btrfs.subvolumeShow(join(b.snapshotsDir, name))).parentUuid === child.uuid) snap = join(b.snapshotsDir, name);
    }
    expect(snap).not.toBe('');
    await btrfs.tool.run(['property', 'set', '-ts', snap, 'ro', 'false']);
    await writeFile(join(snap, 'planted'), 'z');
    await btrfs.tool.run(['property', 'set', '-ts', snap, 'ro', 'true']);
    const made = b.diffStats.snapshotsMade;
    const reused = b.diffStats.snapshotsReused;
    const { native, naive } = await both(d, b, 'c', 'p');
    expect(native).toEqual(naive);
    expect(native).toEqual(['A /g']);
    // the layers did not change: the parent's snapshot was used again, the child's replaced
    expect(b.diffStats.snapshotsMade).toBe(made + 1);
    expect(b.diffStats.snapshotsReused).toBe(reused + 1);
    await b.native.settle();
    expect(existsSync(snap)).toBe(false);
  });

  it("a diff's tar is read from its own snapshot while the layer moves on; cleanup drops the kept ones", async () => {
    const { d, b } = await start();
    await d.create('p', null);
    await writeFile(join(b.path('p'), 'f'), 'x');
    await d.create('c', 'p');
    await writeFile(join(b.path('c'), 'f'), 'changed');
    const tar = await d.diff('c', 'p');
    await writeFile(join(b.path('c'), 'f'), 'changed again');
    await writeFile(join(b.path('c'), 'later'), 'x');
    const now = await both(d, b, 'c', 'p');
    expect(now.native).toEqual(now.naive);
    expect(now.native).toEqual(['C /f', 'A /later']);
    // the child's first snapshot stays until the first tar has been read
    expect(await readdir(b.snapshotsDir)).toHaveLength(3);
    const entries: string[] = [];
    for await (const e of readTar(Readable.from(await collect(tar)))) {
      const body: Buffer[] = [];
      for await (const chunk of e.body) body.push(chunk);
      entries.push(`${e.header.name}: ${Buffer.concat(body).toString()}`);
    }
    // the state the first list was made from
    expect(entries).toEqual(['f: changed']);
    await b.native.settle();
    expect(await readdir(b.snapshotsDir)).toHaveLength(2);
    await d.cleanup();
    open = undefined;
    expect(await readdir(b.snapshotsDir)).toEqual([]);
  });

  it('renames, swaps and moves of whole directories', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    const r = new Rand(5);
    const p = b.path('p');
    for (const dir of ['a', 'b', 'c', 'a/x', 'b/y']) await mkdir(join(p, dir));
    await buildRandomTree(join(p, 'a/x'), r, 20);
    await buildRandomTree(join(p, 'b/y'), r, 20);
    await d.create('c', 'p');
    const c = b.path('c');
    await rename(join(c, 'a'), join(c, 'tmp'));
    await rename(join(c, 'b'), join(c, 'a'));
    await rename(join(c, 'tmp'), join(c, 'b'));
    await rename(join(c, 'c'), join(c, 'a/y/c-moved'));
    await writeFile(join(c, 'b/x/new-in-moved'), 'new');
    const { native, naive } = await both(d, b, 'c', 'p');
    expect(native).toEqual(naive);
    expect(native).toContain('A /b/x/new-in-moved');
  });

  it('same inode numbers for different entries (both layers changed after the snapshot)', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    await writeFile(join(b.path('p'), 'keep'), 'k');
    await d.create('c', 'p');
    // each subvolume hands out the next free inode number: both "x" get the same one
    for (const [id, names] of [
      ['p', ['one', 'two']],
      ['c', ['two', 'three']],
    ] as const) {
      await mkdir(join(b.path(id), 'x'));
      for (const n of names) await writeFile(join(b.path(id), 'x', n), `${id} ${n}`);
    }
    const { ino: pino } = await lstat(join(b.path('p'), 'x'));
    const { ino: cino } = await lstat(join(b.path('c'), 'x'));
    expect(cino).toBe(pino);
    const { native, naive } = await both(d, b, 'c', 'p');
    expect(native).toEqual(naive);
    expect(native).toEqual(expect.arrayContaining(['D /x/one', 'A /x/three']));
  });

  it("core's interop tree: every kind of entry and change", async () => {
    const { d, b } = await start();
    const T0 = 1_700_000_000;
    await d.create('base', null);
    const base = b.path('base');
    const f = async (root: string, rel: string, content: string | Buffer, mode = 0o644) => {
      await mkdir(dirname(join(root, rel)), { recursive: true });
      await writeFile(join(root, rel), content);
      await chmod(join(root, rel), mode);
      await utimes(join(root, rel), T0, T0);
    };
    await f(base, 'etc/hostname', 'box\n');
    await f(base, 'etc/motd', 'hello\n');
    await f(base, 'etc/shadow', 'root:*:1::::::\n', 0o640);
    await f(base, 'usr/bin/tool', 'tool v1', 0o755);
    await f(base, 'usr/bin/su', 'su', 0o4755);
    await f(base, 'usr/share/doc/pkg/README', 'readme');
    await f(base, 'usr/share/man/man1/tool.1', 'man');
    await f(base, 'f2d', 'becomes a directory');
    await f(base, 'd2f/inner', 'goes away with its directory');
    await symlink('etc/motd', join(base, 'l2f'));
    await f(base, 'hl/one', 'shared inode');
    await link(join(base, 'hl/one'), join(base, 'hl/two'));
    await mkdir(join(base, 'tmp'), { mode: 0o1777 });
    await mkdir(join(base, 'dev'));
    await mknod.run([join(base, 'dev/null'), 'c', '1', '3']);
    await mknod.run([join(base, 'dev/zero'), 'c', '1', '5']);
    await f(base, 'srv/owned', 'x');
    await lchown(join(base, 'srv/owned'), 1000, 1000);

    await d.create('upper', 'base');
    const up = b.path('upper');
    await appendFile(join(up, 'etc/motd'), 'welcome\n');
    await chmod(join(up, 'etc/hostname'), 0o600);
    await rm(join(up, 'etc/shadow'));
    await rm(join(up, 'usr/share/doc'), { recursive: true });
    await rm(join(up, 'usr/share/man/man1/tool.1'));
    await writeFile(join(up, 'usr/bin/tool'), 'tool v2!');
    await f(up, 'usr/bin/tool2', 'a new tool', 0o2755);
    await link(join(up, 'usr/bin/tool2'), join(up, 'usr/bin/tool2-alias'));
    await link(join(up, 'usr/bin/su'), join(up, 'usr/bin/su-link'));
    await rm(join(up, 'f2d'));
    await f(up, 'f2d/child', 'c');
    await mkdir(join(up, 'f2d/sub/deeper'), { recursive: true });
    await rm(join(up, 'd2f'), { recursive: true });
    await f(up, 'd2f', 'was a directory');
    await rm(join(up, 'l2f'));
    await f(up, 'l2f', 'was a symlink');
    await writeFile(join(up, 'hl/two'), 'both names change');
    await mkdir(join(up, 'var/lib/app'), { recursive: true });
    await symlink('../../../usr/bin/tool2', join(up, 'var/lib/app/current'));
    await symlink(`/${'t'.repeat(200)}`, join(up, 'var/lib/app/long-target'));
    await f(up, `var/lib/app/${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(90)}/${'leaf'.repeat(30)}`, 'a long path');
    await f(up, 'var/lib/app/ünïcødé-ñame', 'utf-8 name');
    await mkdir(join(up, 'var/spool'), { mode: 0o1730 });
    await f(up, 'var/lib/app/data.bin', Buffer.alloc(300_000, 7));
    await rm(join(up, 'dev/zero'));
    await mknod.run([join(up, 'dev/zero'), 'c', '1', '7']);
    await mknod.run([join(up, 'dev/sda'), 'b', '8', '0']);
    await mkdir(join(up, 'run'));
    await mknod.run([join(up, 'run/initctl'), 'p']);
    await lchown(join(up, 'srv/owned'), 1001, 1002);
    await setfattr.run(['-n', 'security.capability', '-v', '0x0100000200240000000000000000000000000000', join(up, 'usr/bin/tool2')]);
    await utimes(join(up, 'usr/bin/tool'), T0 + 30.25, T0 + 30.25);

    const { native, naive } = await both(d, b, 'upper', 'base');
    expect(native).toEqual(naive);
    // both names of the rewritten inode, a new name of an unchanged one, a new rdev
    expect(native).toEqual(expect.arrayContaining(['C /hl/one', 'C /hl/two', 'A /usr/bin/su-link', 'C /dev/zero', 'C /d2f']));
  });

  it.runIf(CORPUS !== null)(
    'the Debian corpus: a base and an upper with packages installed',
    async () => {
      const { d, b } = await start();
      await d.create('base', null);
      await cp.run(['-a', `${CORPUS}/base/.`, b.path('base')]);
      await d.create('upper', 'base');
      // make the snapshot the upper tree: drop what upper lacks (or has as another type), then copy over
      const up = b.path('upper');
      const drop = async (rel: string) => {
        for (const name of await readdir(join(up, rel))) {
          const r = rel ? `${rel}/${name}` : name;
          const mine = await lstat(join(up, r));
          const theirs = await lstat(join(`${CORPUS}/upper`, r)).catch(() => null);
          if (!theirs || theirs.isDirectory() !== mine.isDirectory() || theirs.isSymbolicLink() !== mine.isSymbolicLink()) {
            await rm(join(up, r), { recursive: true, force: true });
          } else if (mine.isDirectory()) {
            await drop(r);
          }
        }
      };
      await drop('');
      await cp.run(['-a', '--remove-destination', `${CORPUS}/upper/.`, up]);
      const { native, naive } = await both(d, b, 'upper', 'base');
      expect(native.length).toBeGreaterThan(100);
      expect(native).toEqual(naive);
    },
    1_800_000,
  );

  it('declines for layers holding stubs of nested subvolumes, which send does not see', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    await btrfs.subvolumeCreate(join(b.path('p'), 'nested'));
    await d.create('c', 'p');
    await d.create('g', 'c');
    // the parent's subvolume goes; the child keeps its stub (an empty directory)
    await btrfs.subvolumeDelete(join(b.path('p'), 'nested'));
    await writeFile(join(b.path('c'), 'other'), 'y');
    const fallbacks = b.diffStats.fallback;
    expect(lines(await d.changes('c', 'p'))).toEqual(['A /nested', 'A /other']);
    await rm(join(b.path('g'), 'nested'), { recursive: true });
    // g was made before c got "other"
    expect(lines(await d.changes('g', 'c'))).toEqual(['D /nested', 'D /other']);
    expect(b.diffStats.fallback).toBe(fallbacks + 2);
    expect(b.diffStats.lastFallback).toMatch(/stubs/);
  });

  it('declines when there is no parent, or a layer holds a nested subvolume', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    await d.create('c', 'p');
    await btrfs.subvolumeCreate(join(b.path('c'), 'nested'));
    await writeFile(join(b.path('c'), 'nested/inside'), 'x');
    const fallbacks = b.diffStats.fallback;
    const got = lines(await d.changes('c', 'p'));
    expect(b.diffStats.fallback).toBe(fallbacks + 1);
    expect(b.diffStats.lastFallback).toMatch(/nested/);
    // the naive walk goes into the nested subvolume; so does the answer
    expect(got).toEqual(['A /nested', 'A /nested/inside']);
    expect(lines(await d.changes('p', null))).toEqual([]);
    expect(b.diffStats.fallback).toBe(fallbacks + 2);
    await d.remove('c');
    await d.remove('p');
  });

  it('reads what the stream names: the send stream of a small change, parsed', async () => {
    const { d, b } = await start();
    await d.create('p', null);
    await writeFile(join(b.path('p'), 'f'), 'x');
    await d.create('c', 'p');
    await writeFile(join(b.path('c'), 'f'), 'yy');
    const { native, naive } = await both(d, b, 'c', 'p');
    expect(native).toEqual(['C /f']);
    expect(naive).toEqual(native);
    expect((await readFile(join(b.path('c'), 'f'))).toString()).toBe('yy');
  });
});
