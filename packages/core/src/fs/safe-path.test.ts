import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { assertLinkInside, linkLeavesRoot } from './safe-path.js';

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
