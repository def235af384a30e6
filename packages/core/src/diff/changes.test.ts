import { appendFileSync, chmodSync, chownSync, linkSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeKind } from '../driver.js';
import { changesDirs, entryModified } from './changes.js';
import { compareBytewise, sameFsTimeNs } from './walk-util.js';
import { T0, capV2, copyTree, dir, file, isRoot, mknod, rmrf, settle, show, symlink, tmp, xattr } from '../test-support/trees.js';

let work: string;
beforeEach(() => {
  work = tmp('gd-changes-');
});
afterEach(() => rmrf(work));

describe('changesDirs', () => {
  it('lists every entry as an Add when there is no parent, sorted by path', async () => {
    const root = join(work, 'new');
    file(root, 'd', 'x');
    file(root, 'a/b', 'y');
    symlink(root, 'c', 'a/b');
    dir(root, 'a/empty');
    expect(show(await changesDirs(root, null))).toEqual(['A /a', 'A /a/b', 'A /a/empty', 'A /c', 'A /d']);
    // "" is Docker's spelling of "no parent" too
    expect(show(await changesDirs(root, ''))).toEqual(['A /a', 'A /a/b', 'A /a/empty', 'A /c', 'A /d']);
  });

  it('finds nothing between a tree and its cp -a copy', async () => {
    const base = join(work, 'base');
    file(base, 'etc/motd', 'hi');
    file(base, 'bin/tool', 'elf', { mode: 0o4755 });
    symlink(base, 'lib', 'usr/lib');
    const upper = join(work, 'upper');
    copyTree(base, upper);
    expect(await changesDirs(upper, base)).toEqual([]);
  });

  it('reports adds, modifies and deletes with their parent directories, as Docker does', async () => {
    const base = join(work, 'base');
    file(base, 'etc/hostname', 'box\n');
    file(base, 'etc/motd', 'hello\n');
    file(base, 'etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
    file(base, 'usr/bin/tool', 'tool');
    file(base, 'usr/share/doc/a/readme', 'a');
    file(base, 'usr/share/doc/b/readme', 'b');
    dir(base, 'var/lib');
    file(base, 'f2d', 'file that becomes a dir');
    file(base, 'd2f/x', 'child of a dir that becomes a file');
    file(base, 'same-second', 's', { mtime: T0 + 0.5 });
    file(base, 'ns-diff', 'n', { mtime: T0 + 0.25 });
    dir(base, 'dirmtime/sub');
    dir(base, 'dirmode', { mode: 0o755 });
    symlink(base, 'link', '/etc');
    settle(base);
    utimesSync(join(base, 'same-second'), T0 + 0.5, T0 + 0.5);
    utimesSync(join(base, 'ns-diff'), T0 + 0.25, T0 + 0.25);

    const upper = join(work, 'upper');
    copyTree(base, upper);
    appendFileSync(join(upper, 'etc/motd'), 'welcome\n'); // size and mtime
    chmodSync(join(upper, 'etc/hostname'), 0o600); // mode only
    rmSync(join(upper, 'usr/share/doc'), { recursive: true }); // a deleted directory: one entry
    file(upper, 'var/lib/app/state', 'state\n'); // new directories
    rmSync(join(upper, 'f2d'));
    file(upper, 'f2d/child', 'c'); // a file replaced by a directory: its children are Adds
    rmSync(join(upper, 'd2f'), { recursive: true });
    file(upper, 'd2f', 'now a file'); // a directory replaced by a file: no Deletes below it
    utimesSync(join(upper, 'same-second'), T0, T0); // same second, one side at 0 ns: unchanged
    utimesSync(join(upper, 'ns-diff'), T0 + 0.5, T0 + 0.5); // same second, both with ns: changed
    utimesSync(join(upper, 'dirmtime'), T0 + 100, T0 + 100); // a directory's mtime is not a change
    chmodSync(join(upper, 'dirmode'), 0o700);
    rmSync(join(upper, 'link'));
    symlink(upper, 'link', '/usr', T0 + 5); // same size, new mtime

    expect(show(await changesDirs(upper, base))).toEqual([
      'C /d2f',
      'C /dirmode',
      'C /etc',
      'C /etc/hostname',
      'C /etc/motd',
      'C /f2d',
      'A /f2d/child',
      'C /link',
      'C /ns-diff',
      'C /usr',
      'C /usr/share',
      'D /usr/share/doc',
      'C /var',
      'C /var/lib',
      'A /var/lib/app',
      'A /var/lib/app/state',
    ]);
    // The reverse direction: adds become deletes, the parents are still listed.
    expect(show(await changesDirs(base, upper))).toEqual([
      'C /d2f',
      'A /d2f/x',
      'C /dirmode',
      'C /etc',
      'C /etc/hostname',
      'C /etc/motd',
      'C /f2d',
      'C /link',
      'C /ns-diff',
      'C /usr',
      'C /usr/share',
      'A /usr/share/doc',
      'A /usr/share/doc/a',
      'A /usr/share/doc/a/readme',
      'A /usr/share/doc/b',
      'A /usr/share/doc/b/readme',
      'C /var',
      'C /var/lib',
      'D /var/lib/app',
    ]);
  });

  it('never lists "/" and lists a changed directory once, before its children', async () => {
    const base = join(work, 'base');
    dir(base, 'a', { mode: 0o755 });
    file(base, 'top', '1');
    const upper = join(work, 'upper');
    copyTree(base, upper);
    chmodSync(join(upper, 'a'), 0o750);
    file(upper, 'a/new', 'n');
    writeFileSync(join(upper, 'top'), '22');
    chmodSync(upper, 0o700); // the root itself changed: not listed
    expect(show(await changesDirs(upper, base))).toEqual(['C /a', 'A /a/new', 'C /top']);
  });

  it('sorts by UTF-8 bytes, as Go compares strings', async () => {
    const root = join(work, 'new');
    // bytewise: "a" < "a-b" < "a.c" < "a/x" < "z" < "é" (C3 A9) < "～" (EF BD 9E) < "😀" (F0 ..)
    for (const n of ['z', 'é', '\uff5e', '\u{1f600}', 'a-b', 'a.c']) file(root, n, n);
    file(root, 'a/x', 'x');
    expect((await changesDirs(root, null)).map((c) => c.path)).toEqual(['/a', '/a-b', '/a.c', '/a/x', '/z', '/é', '/\uff5e', '/\u{1f600}']);
  });

  it('skips entries that are the same inode in both trees (Docker prunes them)', async () => {
    const base = join(work, 'base');
    const upper = join(work, 'upper');
    file(base, 'shared', 'one');
    file(base, 'other', 'x');
    mkdirSync(upper);
    linkSync(join(base, 'shared'), join(upper, 'shared'));
    copyTree(join(base, 'other'), join(upper, 'other'));
    expect(await changesDirs(upper, base)).toEqual([]);
    chmodSync(join(upper, 'shared'), 0o600); // changes both sides: still the same file
    expect(await changesDirs(upper, base)).toEqual([]);
  });

  it('refuses a file name that is not UTF-8 rather than leave it out', async () => {
    const root = join(work, 'new');
    file(root, 'ok', 'x');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0x66])]), 'bad name');
    await expect(changesDirs(root, null)).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_ENTRY' });
    file(root, 'real-\ufffd', 'a name that truly holds U+FFFD is fine');
    rmSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0x66])]));
    expect(show(await changesDirs(root, null))).toEqual(['A /ok', 'A /real-\ufffd']);
  });

  it('fails when a root does not exist', async () => {
    await expect(changesDirs(join(work, 'nope'), null)).rejects.toThrow(/ENOENT/);
    file(work, 'new/x');
    await expect(changesDirs(join(work, 'new'), join(work, 'nope'))).rejects.toThrow(/ENOENT/);
  });

  describe.runIf(isRoot)('as root', () => {
    it('sees owner changes, rdev changes and security.capability, and ignores a block device mtime', async () => {
      const base = join(work, 'base');
      file(base, 'usr/bin/ping', 'elf');
      file(base, 'usr/bin/owned', 'x');
      mknod(base, 'dev/null', 'c', 1, 3);
      mknod(base, 'dev/loop0', 'b', 7, 0);
      mknod(base, 'dev/fifo', 'p');
      const upper = join(work, 'upper');
      copyTree(base, upper);
      xattr(join(upper, 'usr/bin/ping'), 'security.capability', capV2(1 << 13)); // cap_net_raw
      chownSync(join(upper, 'usr/bin/owned'), 1000, 1000);
      rmSync(join(upper, 'dev/null'));
      mknod(upper, 'dev/null', 'c', 1, 5); // same everything but rdev
      utimesSync(join(upper, 'dev/loop0'), T0 + 60, T0 + 60);
      utimesSync(join(upper, 'dev/fifo'), T0 + 60, T0 + 60);
      expect(show(await changesDirs(upper, base))).toEqual([
        'C /dev',
        'C /dev/fifo', // fifos are compared like files
        'C /dev/null',
        // not /dev/loop0: Docker tests `mode & S_IFDIR`, which block devices match
        'C /usr',
        'C /usr/bin',
        'C /usr/bin/owned',
        'C /usr/bin/ping',
      ]);
    });
  });

  it('entryModified is the test changesDirs applies to entries in both trees', async () => {
    const { lstatSync } = await import('node:fs');
    const a = file(work, 'a', 'same', { mtime: T0 });
    const b = file(work, 'b', 'same', { mtime: T0 });
    const c = file(work, 'c', 'diff', { mtime: T0 + 1 });
    const st = (p: string) => lstatSync(p, { bigint: true });
    expect(entryModified(a, b, st(a), st(b))).toBe(false);
    expect(entryModified(a, c, st(a), st(c))).toBe(true);
  });
});

describe('helpers', () => {
  it('compareBytewise orders like UTF-8 bytes', () => {
    const names = ['\u{1f600}', '\uff5e', 'é', 'z', 'a/x', 'a.c', 'a-b', 'a', ''];
    const bytewise = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...names].sort(compareBytewise)).toEqual(bytewise);
    expect(compareBytewise('\uff5e', '\u{1f600}')).toBeLessThan(0); // JS's own < says the opposite
    expect('\uff5e' < '\u{1f600}').toBe(false);
  });

  it('sameFsTimeNs is Docker sameFsTimeSpec', () => {
    const s = 1_700_000_000n * 1_000_000_000n;
    expect(sameFsTimeNs(s, s)).toBe(true);
    expect(sameFsTimeNs(s + 5n, s + 5n)).toBe(true);
    expect(sameFsTimeNs(s, s + 999_999_999n)).toBe(true); // one side whole seconds
    expect(sameFsTimeNs(s + 1n, s)).toBe(true);
    expect(sameFsTimeNs(s + 1n, s + 2n)).toBe(false);
    expect(sameFsTimeNs(s, s + 1_000_000_000n)).toBe(false);
    expect(sameFsTimeNs(-1n, 0n)).toBe(false); // -1 ns is in second -1
    expect(sameFsTimeNs(-1_000_000_000n, -1n)).toBe(true);
  });

  it('kinds are Docker numbers', () => {
    expect([ChangeKind.Modify, ChangeKind.Add, ChangeKind.Delete]).toEqual([0, 1, 2]);
  });
});
