import { linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeKind, type Change } from '../driver.js';
import { changesDirs } from './changes.js';
import { changesSize } from './size.js';
import { copyTree, dir, file, rmrf, symlink, tmp } from '../test-support/trees.js';

let work: string;
beforeEach(() => {
  work = tmp('gd-size-');
});
afterEach(() => rmrf(work));

const A = ChangeKind.Add;
const C = ChangeKind.Modify;
const D = ChangeKind.Delete;

describe('changesSize', () => {
  it('sums non-directory Adds and Modifies, counting a hardlinked inode once', async () => {
    const root = join(work, 'layer');
    file(root, 'a', Buffer.alloc(10));
    file(root, 'd/b', Buffer.alloc(20));
    file(root, 'h1', Buffer.alloc(30));
    linkSync(join(root, 'h1'), join(root, 'd/h2'));
    symlink(root, 'l', 'd/b'); // a symlink's size is its target's length: 3
    dir(root, 'empty');
    const changes: Change[] = [
      { path: '/a', kind: A },
      { path: '/d', kind: C }, // directories do not count
      { path: '/d/b', kind: C },
      { path: '/d/h2', kind: A },
      { path: '/empty', kind: A },
      { path: '/h1', kind: A }, // same inode as /d/h2: counted once
      { path: '/l', kind: A },
      { path: '/gone', kind: D }, // deletes do not count
      { path: '/missing', kind: A }, // cannot be stat'ed: skipped, as Docker logs and skips
    ];
    expect(await changesSize(root, changes)).toBe(10 + 20 + 30 + 3);
  });

  it('counts a hardlinked inode even when only one of its names changed', async () => {
    const root = join(work, 'layer');
    file(root, 'h1', Buffer.alloc(7));
    linkSync(join(root, 'h1'), join(root, 'h2'));
    expect(await changesSize(root, [{ path: '/h2', kind: C }])).toBe(7);
  });

  it('is 0 for no changes, and for a layer of directories', async () => {
    const root = join(work, 'layer');
    dir(root, 'x/y');
    expect(await changesSize(root, [])).toBe(0);
    expect(
      await changesSize(root, [
        { path: '/x', kind: A },
        { path: '/x/y', kind: A },
      ]),
    ).toBe(0);
  });

  it('agrees with changesDirs on a real diff', async () => {
    const base = join(work, 'base');
    file(base, 'etc/motd', 'hello\n');
    file(base, 'bin/sh', Buffer.alloc(1000));
    const upper = join(work, 'upper');
    copyTree(base, upper);
    writeFileSync(join(upper, 'etc/motd'), 'hello, world\n'); // 13 bytes
    file(upper, 'opt/app/data', Buffer.alloc(4096));
    linkSync(join(upper, 'opt/app/data'), join(upper, 'opt/app/data.lnk'));
    const changes = await changesDirs(upper, base);
    expect(await changesSize(upper, changes)).toBe(13 + 4096);
    // against nothing: everything counts
    expect(await changesSize(upper, await changesDirs(upper, null))).toBe(13 + 1000 + 4096);
  });
});
