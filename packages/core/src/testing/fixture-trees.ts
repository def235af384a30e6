// The trees the conformance suite builds inside layers: graphtest's base (a sticky 0705
// directory owned 1:2 and a setuid 0222 file) and a richer one with every kind of entry a
// layer must carry (owners, modes, xattrs, hardlinks, symlinks, FIFOs, devices, read-only
// directories, nanosecond times).
import type { EntrySpec, Owner } from './fixtures.js';
import { randomContent } from './fixtures.js';

/** Who builds the fixture trees, which decides their owners and some modes. */
export interface Identity {
  /** Whose files the test makes: root, or the caller when rootless. */
  rootless: boolean;
  /** The calling process's uid and gid (the owner of everything when rootless). */
  me: Owner;
}

/** Owner of what root would own: 0:0, or the caller when rootless. */
export const rootOwner = (id: Identity): Owner => (id.rootless ? id.me : { uid: 0, gid: 0 });

/** graphtest's 1:2 owner; the caller when rootless (it cannot give files away). */
export const otherOwner = (id: Identity): Owner => (id.rootless ? id.me : { uid: 1, gid: 2 });

/**
 * graphtest's setuid 0222 file. Rootless, the owner must be able to read it, or no
 * unprivileged copy of the layer could be made (a rootless driver in a user namespace has
 * CAP_DAC_OVERRIDE; a plain unprivileged process does not): 04622 there.
 */
export const baseFileMode = (id: Identity): number => (id.rootless ? 0o4622 : 0o4222);
export const baseDirMode = 0o1705;

/** graphtest's createBase content. */
export function baseEntries(id: Identity): EntrySpec[] {
  return [
    { type: 'dir', path: 'a subdir', mode: baseDirMode, owner: otherOwner(id) },
    { type: 'file', path: 'a file', content: 'Some data', mode: baseFileMode(id) },
  ];
}

const T0 = 1_577_934_245_123_456_789n; // 2020-01-02T03:04:05.123456789Z: nanoseconds matter

/** Every kind of entry, with owners, modes, xattrs and nanosecond times. */
export function richEntries(id: Identity): EntrySpec[] {
  const other = otherOwner(id);
  const entries: EntrySpec[] = [
    { type: 'dir', path: 'etc', mode: 0o755 },
    { type: 'file', path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n', mode: 0o644, mtimeNs: T0 },
    { type: 'file', path: 'etc/shadow', content: 'root:*:1::::::\n', mode: 0o640, owner: other, mtimeNs: T0 + 1n },
    {
      type: 'file',
      path: 'bin/tool',
      content: randomContent(4096, 11),
      mode: 0o755,
      xattrs: { 'user.graphtest': 'hello' },
      mtimeNs: T0 + 999_999_999n,
    },
    { type: 'hardlink', path: 'bin/tool-link', target: 'bin/tool' },
    { type: 'symlink', path: 'bin/sh', target: 'tool', mtimeNs: T0 + 7n },
    { type: 'symlink', path: 'dangling', target: '/nowhere/at/all' },
    { type: 'file', path: 'big', content: randomContent(1 << 20, 12), mode: 0o600, mtimeNs: T0 + 3n },
    { type: 'file', path: 'empty', content: '', mode: 0o444 },
    { type: 'file', path: 'setgid', content: 'g', mode: 0o2755 },
    { type: 'fifo', path: 'run/fifo', mode: 0o600 },
    { type: 'dir', path: 'var/empty', mode: 0o700, owner: other, xattrs: { 'user.dir': Buffer.from([0, 1, 2, 255]) }, mtimeNs: T0 + 5n },
    { type: 'file', path: 'ro/inside', content: 'cannot unlink me without write on ro/', mode: 0o444 },
    { type: 'dir', path: 'ro', mode: 0o555, mtimeNs: T0 + 11n },
    { type: 'dir', path: 'sticky', mode: 0o1777, mtimeNs: T0 + 13n },
  ];
  // Device nodes need CAP_MKNOD.
  if (!id.rootless) entries.push({ type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  return entries;
}
