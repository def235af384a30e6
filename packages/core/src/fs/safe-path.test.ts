import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { assertLinkInside, linkLeadsOutThroughLinks, linkLeavesRoot } from './safe-path.js';

describe("linkLeavesRoot (Docker's link rule, whole segments)", () => {
  it('is false for relative targets that stay inside, however they wander', () => {
    for (const [link, target] of [
      ['l', 'x'],
      ['l', '.'],
      ['l', './a/./b'],
      ['usr/bin/ld', '../lib/libc.so'],
      ['usr/bin/root', '../..'],
      ['a/b/c/l', '../../../x'],
      ['a/l', 'b/../../x'],
      ['a/l', '..//.//x'],
      ['lib', 'usr/lib'],
    ]) {
      expect(linkLeavesRoot(link, target), `${link} -> ${target}`).toBe(false);
    }
  });

  it('is true for relative targets that climb above the root at any point', () => {
    for (const [link, target] of [
      ['dotdot', '../victim/hello'],
      ['dir/loophole', '../../victim'],
      ['up', `${'../'.repeat(64)}etc`],
      ['l', 'a/../..'],
      ['a/b/l', '../../../x'],
      // Docker compares string prefixes: "/x/dest-evil" starts with "/x/dest" and passes there.
      ['evil', '../dest-evil/x'],
      // out and back in by the root's own name: depends on where the layer lives
      ['l', '../dest/x'],
    ]) {
      expect(linkLeavesRoot(link, target), `${link} -> ${target}`).toBe(true);
    }
  });

  it('allows absolute targets unless they climb above "/"', () => {
    expect(linkLeavesRoot('l', '/etc/passwd')).toBe(false);
    expect(linkLeavesRoot('a/b/l', '/')).toBe(false);
    expect(linkLeavesRoot('a/b/l', '/usr/../lib')).toBe(false);
    expect(linkLeavesRoot('slash-dotdot', '/../victim/hello')).toBe(true);
    expect(linkLeavesRoot('a/b/l', '/a/../../x')).toBe(true);
  });

  it('assertLinkInside names the entry in an ERR_UNSAFE_ENTRY', () => {
    expect(() => assertLinkInside('./dotdot', 'dotdot', '../x')).toThrow(
      expect.objectContaining({ code: ErrorCode.UnsafeEntry, message: expect.stringContaining('"./dotdot"') }),
    );
    expect(() => assertLinkInside('ok', 'ok', 'x')).not.toThrow();
  });
});

describe('linkLeadsOutThroughLinks (the rule followed through the links in the tree)', () => {
  /** A real tree: dirs, and symlinks as [path, target]. */
  function tree(dirs: string[], links: Array<[string, string]>): string {
    const root = fs.mkdtempSync(join(tmpdir(), 'gd-safe-path-'));
    for (const d of dirs) fs.mkdirSync(join(root, d), { recursive: true });
    for (const [p, t] of links) fs.symlinkSync(t, join(root, p));
    return root;
  }

  it('is true where links each inside on paper lead out together, as the kernel follows them', () => {
    const root = tree(
      ['d1/d2'],
      [
        ['d1/d2/up', '../..'],
        ['top', 'd1/d2/up/..'],
        ['via', 'd1/d2/up/../x'],
        ['chain', 'top'],
      ],
    );
    try {
      for (const [link, target] of [
        ['top', 'd1/d2/up/..'],
        ['via', 'd1/d2/up/../x'],
        ['chain', 'top'],
      ]) {
        expect(linkLeavesRoot(link, target), `${link} lexically`).toBe(false);
        expect(linkLeadsOutThroughLinks(root, link, target), link).toBe(true);
      }
      // the kernel agrees: top is the root's parent
      expect(fs.realpathSync.native(join(root, 'top'))).toBe(fs.realpathSync.native(dirname(root)));
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });

  it('is false for links through links that stay inside, absolute targets, missing parts and loops', () => {
    const root = tree(
      ['usr/bin', 'usr/lib', 'd'],
      [
        ['usr/bin/root', '../..'],
        ['lib', 'usr/lib'],
        ['abs', '/'],
        ['loop1', 'loop2'],
        ['loop2', 'loop1'],
      ],
    );
    try {
      for (const [link, target] of [
        ['usr/bin/root', '../..'],
        ['usr/bin/via-root', 'root/usr/lib/x'],
        ['d/l', '../lib/../usr'],
        ['d/a', '../abs/..'],
        ['d/m', 'missing/../../usr'],
        ['d/loop', '../loop1/..'],
      ]) {
        expect(linkLeadsOutThroughLinks(root, link, target), `${link} -> ${target}`).toBe(false);
      }
      // a missing part is judged on paper: it may be made later
      expect(linkLeadsOutThroughLinks(root, 'd/m2', 'missing/../../..')).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true });
    }
  });
});
