// Hostile archives: whatever an archive chains together, nothing outside dest is created,
// changed or removed, and a refused archive leaves dest exactly as it was. Each attack either fails with a typed error (ERR_UNSAFE_ENTRY, or
// ERR_INVALID_ARCHIVE / ERR_UNSUPPORTED_ENTRY where the entry is merely broken) or ends
// with a harmless outcome inside dest; in every case a sentinel tree next to dest, every
// directory between them, and /etc/passwd are checked to be exactly as they were.
//
// These tests run as root. Every absolute path an attack uses is chosen so that, should a
// regression follow it on the host, it lands in the test's own sandbox (base/outside)
// rather than in the real system: "l -> /" is exercised as "l/<sandbox>/outside/etc/passwd",
// never as "l/etc/passwd". Only the hardlink-to-/etc/passwd attack names a host file, and a
// link is not a write. Keep it that way when adding cases.
import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { applyLayer } from './apply.js';
import { pyTar, tmpDir, type PyEntry } from '../test-support/apply-fixtures.js';
import { snapshotTree } from '../testing/fixtures.js';
import { requireBackingSystem } from '../testing/backing-system.js';

const isRoot = requireBackingSystem("diff/apply-hostile.test.ts's root-only cases", process.geteuid?.() === 0 ? null : 'needs root');
const TAG = `gdpwn${process.pid}`;

let work: string;
let n = 0;
beforeAll(async () => {
  work = await tmpDir('gd-hostile-');
});
afterAll(async () => {
  await fs.promises.rm(work, { recursive: true, force: true });
  // Only ever non-empty after a regression; the names are unique to this process.
  for (const p of hostProbes()) await fs.promises.rm(p, { recursive: true, force: true });
});

interface Scene {
  base: string;
  /** base/w1/w2/w3/dest: three directories of room for "../" to land in. */
  dest: string;
  /** base/outside: the sentinel (file, dir, symlink). */
  outside: string;
  /** dest -> outside as a relative path ("../../../../outside"). */
  esc: string;
}

async function scene(): Promise<Scene> {
  const base = join(work, `s${++n}`);
  const outside = join(base, 'outside');
  const dest = join(base, 'w1', 'w2', 'w3', 'dest');
  fs.mkdirSync(join(outside, 'dir'), { recursive: true });
  fs.mkdirSync(join(outside, 'etc'));
  fs.writeFileSync(join(outside, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  fs.writeFileSync(join(outside, 'secret'), 'top secret\n');
  fs.writeFileSync(join(outside, 'dir', 'inner'), 'inner\n');
  fs.symlinkSync('secret', join(outside, 'link'));
  fs.mkdirSync(dest, { recursive: true });
  return { base, dest, outside, esc: relative(dest, outside) };
}

const hostProbes = () => [`/${TAG}`, `/etc/${TAG}`, `/tmp/${TAG}`, join(work, TAG), join(work, '..', TAG)];

function hostState() {
  const st = fs.statSync('/etc/passwd', { bigint: true });
  return {
    passwd: [st.ino, st.size, st.mtimeNs, st.ctimeNs, st.nlink].map(String),
    probes: hostProbes().filter((p) => fs.existsSync(p)),
  };
}

type Outcome = { ok: true; size: number } | { ok: false; code: string; message: string };

/**
 * Applies `entries` to a fresh scene (after `prepare`, which may populate dest as a lower
 * layer would) and proves nothing outside dest changed. Returns the outcome and the scene.
 */
async function attack(
  entries: PyEntry[] | ((s: Scene) => PyEntry[]),
  prepare?: (s: Scene) => void,
): Promise<{ outcome: Outcome; s: Scene }> {
  const s = await scene();
  prepare?.(s);
  const list = typeof entries === 'function' ? entries(s) : entries;
  const tar = await pyTar(join(work, `a${++n}.tar`), list);
  const before = await snapshotTree(s.base, { exclude: [s.dest], symlinkXattrs: true });
  const destBefore = await snapshotTree(s.dest, { symlinkXattrs: true });
  const host = hostState();
  let outcome: Outcome;
  try {
    outcome = { ok: true, size: await applyLayer(s.dest, fs.createReadStream(tar)) };
  } catch (err) {
    expect(isGraphDriverError(err), `untyped error: ${String(err)}`).toBe(true);
    const e = err as { code: string; message: string };
    outcome = { ok: false, code: e.code, message: e.message };
  }
  expect(await snapshotTree(s.base, { exclude: [s.dest], symlinkXattrs: true })).toEqual(before);
  expect(hostState()).toEqual(host);
  expect(fs.lstatSync(s.dest).isDirectory()).toBe(true);
  // A refused archive is rolled back: dest exactly as it was (inodes and times included).
  if (!outcome.ok) expect(await snapshotTree(s.dest, { symlinkXattrs: true }), outcome.message).toEqual(destBefore);
  return { outcome, s };
}

function expectRefused(o: Outcome, code: string = ErrorCode.UnsafeEntry, name?: string): void {
  expect(o.ok, JSON.stringify(o)).toBe(false);
  if (!o.ok) {
    expect(o.code, o.message).toBe(code);
    if (name !== undefined) expect(o.message).toContain(JSON.stringify(name));
  }
}

const exists = (p: string) => fs.existsSync(p) || fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;

describe('hostile archives: names', () => {
  it('1. "../" names climbing out are refused', async () => {
    const { outcome } = await attack([{ name: `../../../../${TAG}`, data: 'x' }]);
    expectRefused(outcome, ErrorCode.UnsafeEntry, `../../../../${TAG}`);
    const r2 = await attack((s) => [{ name: `${s.esc}/secret`, data: 'overwritten' }]);
    expectRefused(r2.outcome);
    const r3 = await attack([{ name: `../../etc/${TAG}`, data: 'x' }]);
    expectRefused(r3.outcome);
  });

  it('2. absolute names land inside dest (relative to the root, as Docker)', async () => {
    // Named after the sentinel's real absolute path: resolved on the host they would hit it.
    const { outcome, s } = await attack((sc) => [
      { name: `${sc.outside}/secret`, data: 'abs' },
      { name: `/../../..${sc.outside}/etc/passwd`, data: 'abs2' },
      { name: `/${sc.outside}//dir//inner`, data: 'abs3' },
    ]);
    expect(outcome).toEqual({ ok: true, size: 11 });
    expect(fs.readFileSync(join(s.dest, s.outside, 'secret'), 'utf8')).toBe('abs');
    expect(fs.readFileSync(join(s.dest, s.outside, 'etc/passwd'), 'utf8')).toBe('abs2');
    expect(fs.readFileSync(join(s.dest, s.outside, 'dir/inner'), 'utf8')).toBe('abs3');
  });

  it('3. "a/../../x" (climbing out after going down) is refused', async () => {
    expectRefused((await attack([{ name: `a/../../${TAG}`, data: 'x' }])).outcome);
    expectRefused((await attack([{ name: `./a/b/../../../${TAG}`, type: 'dir' }])).outcome);
    expectRefused((await attack([{ name: `a/../../.wh.${TAG}` }])).outcome);
  });

  it('4. NUL in names or link targets is refused (or cut by ustar, staying inside)', async () => {
    expectRefused(
      (await attack([{ name: 'x', data: 'x', pax: { path: `a\u0000/../../../../../${TAG}` } }])).outcome,
      ErrorCode.InvalidArchive,
    );
    expectRefused(
      (await attack([{ name: 'l', type: 'symlink', linkname: 'x', pax: { linkpath: 'a\u0000/../../..' } }])).outcome,
      ErrorCode.InvalidArchive,
    );
    // A NUL inside a ustar name field ends the name there.
    const { outcome, s } = await attack([{ name: `inside\u0000/../../../../${TAG}`, data: 'cut' }]);
    if (outcome.ok) expect(fs.readFileSync(join(s.dest, 'inside'), 'utf8')).toBe('cut');
    else expect([ErrorCode.UnsafeEntry, ErrorCode.InvalidArchive]).toContain(outcome.code);
  });

  it('5. very long names fail typed (ENAMETOOLONG) and long "../" chains are refused', async () => {
    expectRefused((await attack([{ name: `${'n'.repeat(300)}/f`, data: 'x' }])).outcome, ErrorCode.Unsupported);
    const deep = `${'abcdefghij/'.repeat(400)}f`; // 4400 bytes > PATH_MAX
    expectRefused((await attack([{ name: deep, data: 'x' }])).outcome, ErrorCode.Unsupported);
    const climb = `${'a/'.repeat(2000)}${'../'.repeat(2001)}${TAG}`;
    expectRefused((await attack([{ name: climb, data: 'x' }])).outcome, ErrorCode.UnsafeEntry);
  });

  it('6. nothing may replace the root itself', async () => {
    expectRefused((await attack([{ name: './', data: 'file over root' }])).outcome);
    expectRefused((await attack([{ name: '.', type: 'symlink', linkname: '/' }])).outcome);
    expectRefused(
      (
        await attack([
          { name: 'x', data: 'x' },
          { name: '/', type: 'link', linkname: 'x' },
        ])
      ).outcome,
    );
    expectRefused((await attack([{ name: '.wh..' }])).outcome);
  });
});

describe('hostile archives: symlinks', () => {
  it('7. l -> / then l/.../etc/passwd writes inside dest (chroot view), not the real file', async () => {
    // "l/etc/passwd" with the sandbox's path in between (see the note at the top).
    const { outcome, s } = await attack((sc) => [
      { name: 'l', type: 'symlink', linkname: '/' },
      { name: `l${sc.outside}/etc/passwd`, data: 'root::0:0::/:/bin/sh\n' },
      { name: `l/l/l${sc.outside}/etc/shadow`, data: 'x' },
      { name: 'l/etc/', type: 'dir' },
      { name: 'l/etc/hostname', data: 'in root' },
    ]);
    expect(outcome.ok).toBe(true);
    expect(fs.readFileSync(join(s.dest, s.outside, 'etc/passwd'), 'utf8')).toBe('root::0:0::/:/bin/sh\n');
    expect(fs.existsSync(join(s.dest, s.outside, 'etc/shadow'))).toBe(true);
    expect(fs.readFileSync(join(s.dest, 'etc/hostname'), 'utf8')).toBe('in root');
  });

  it('8. l -> ../../.. (relative, out) then l/x is refused at the link itself', async () => {
    const r = await attack([
      { name: 'l', type: 'symlink', linkname: '../../..' },
      { name: `l/${TAG}`, data: 'x' },
    ]);
    expectRefused(r.outcome, ErrorCode.UnsafeEntry, 'l');
    const r2 = await attack((s) => [
      { name: 'l', type: 'symlink', linkname: s.esc },
      { name: 'l/secret', data: 'overwritten' },
    ]);
    expectRefused(r2.outcome, ErrorCode.UnsafeEntry, 'l');
    // The same link already in dest (a lower layer's): the walk through it is refused.
    const r2b = await attack([{ name: `l/${TAG}`, data: 'x' }], (s) => fs.symlinkSync('../../..', join(s.dest, 'l')));
    expectRefused(r2b.outcome, ErrorCode.UnsafeEntry, `l/${TAG}`);
    // Absolute targets cannot climb either: "/.." is refused rather than clamped.
    const r3 = await attack((sc) => [
      { name: 'l', type: 'symlink', linkname: `/../../..${sc.outside}` },
      { name: 'l/secret', data: 'x' },
    ]);
    expectRefused(r3.outcome);
  });

  it('9. chains of symlinks (l1 -> l2 -> ..) and loops are refused', async () => {
    expectRefused(
      (
        await attack([
          { name: 'd/', type: 'dir' },
          { name: 'l2', type: 'symlink', linkname: 'd/../..' },
          { name: 'd/l1', type: 'symlink', linkname: '../l2' },
          { name: `d/l1/${TAG}`, data: 'x' },
        ])
      ).outcome,
    );
    expectRefused(
      (
        await attack([
          { name: 'a', type: 'symlink', linkname: 'b' },
          { name: 'b', type: 'symlink', linkname: 'a' },
          { name: 'a/x', data: 'x' },
        ])
      ).outcome,
    );
    expectRefused(
      (
        await attack([
          { name: 's', type: 'symlink', linkname: 's' },
          { name: 's/x', data: 'x' },
        ])
      ).outcome,
    );
  });

  it('10. a symlink to the sentinel by absolute host path resolves inside dest', async () => {
    const { outcome, s } = await attack((sc) => [
      { name: 'l', type: 'symlink', linkname: sc.outside },
      { name: 'l/secret', data: 'in root' },
      { name: 'l/dir/.wh.inner' },
    ]);
    expect(outcome.ok).toBe(true);
    expect(fs.readFileSync(join(s.dest, s.outside, 'secret'), 'utf8')).toBe('in root');
  });

  it('11. a symlink entry then a file of the same name replaces the link', async () => {
    // Absolute targets (allowed, as in Docker) naming the sentinel's host path: followed by
    // the kernel they would hit it.
    for (const second of [
      { name: 'f', data: 'pwned' },
      { name: 'f', type: 'dir' as const },
      { name: 'f', type: 'fifo' as const },
      { name: 'f', type: 'symlink' as const, linkname: 'elsewhere' },
    ]) {
      const { outcome, s } = await attack((sc) => [{ name: 'f', type: 'symlink', linkname: `${sc.outside}/secret` }, second]);
      expect(outcome.ok).toBe(true);
      expect(fs.lstatSync(join(s.dest, 'f')).isSymbolicLink()).toBe(second.type === 'symlink');
    }
    // A dangling link out: a plain O_CREAT open would create the file outside.
    const { outcome, s } = await attack((sc) => [
      { name: 'f', type: 'symlink', linkname: `${sc.outside}/new-file` },
      { name: 'f', data: 'stays in' },
      { name: 'g', type: 'symlink', linkname: `${sc.outside}/dir/new-dir` },
      { name: 'g/', type: 'dir' },
    ]);
    expect(outcome.ok).toBe(true);
    expect(fs.readFileSync(join(s.dest, 'f'), 'utf8')).toBe('stays in');
    expect(fs.lstatSync(join(s.dest, 'g')).isDirectory()).toBe(true);
  });

  it('12. a directory replaced by a symlink out, then files into it, is refused', async () => {
    const r = await attack((s) => [
      { name: 'd/', type: 'dir' },
      { name: 'd/a', data: 'a' },
      { name: 'd', type: 'symlink', linkname: s.esc },
      { name: 'd/secret', data: 'overwritten' },
    ]);
    expectRefused(r.outcome, ErrorCode.UnsafeEntry, 'd');
    // ... while a directory replacing a symlink (absolute, to the host path) again is fine.
    const r2 = await attack((s) => [
      { name: 'd/', type: 'dir' },
      { name: 'd', type: 'symlink', linkname: s.outside },
      { name: 'd/', type: 'dir' },
      { name: 'd/secret', data: 'mine' },
    ]);
    expect(r2.outcome.ok).toBe(true);
    expect(fs.readFileSync(join(r2.s.dest, 'd/secret'), 'utf8')).toBe('mine');
  });

  it('13. a symlink already in dest (lower layer) pointing out cannot be written through', async () => {
    const prepare = (s: Scene) => {
      fs.symlinkSync(s.esc, join(s.dest, 'evil'));
      fs.mkdirSync(join(s.dest, 'usr'));
      fs.symlinkSync(`../${s.esc}/dir`, join(s.dest, 'usr', 'evil2'));
    };
    for (const e of [
      { name: 'evil/secret', data: 'x' },
      { name: 'evil/newdir/', type: 'dir' as const },
      { name: 'evil/dir/inner', data: 'x' },
      { name: 'usr/evil2/inner', data: 'x' },
      { name: 'evil/.wh.secret' },
      { name: 'usr/evil2/.wh.inner' },
      { name: 'evil/dir/.wh..wh..opq' },
      { name: 'h', type: 'link' as const, linkname: 'evil/secret' },
      { name: 'evil/fifo', type: 'fifo' as const },
    ]) {
      expectRefused((await attack([e], prepare)).outcome, ErrorCode.UnsafeEntry, e.name);
    }
    // Replacing the link itself is fine and harmless.
    const { outcome, s } = await attack([{ name: 'evil', data: 'plain file now' }], prepare);
    expect(outcome.ok).toBe(true);
    expect(fs.lstatSync(join(s.dest, 'evil')).isFile()).toBe(true);
  });

  it('14. a dangling symlink out does not make missing parents outside', async () => {
    const r = await attack((s) => [
      { name: 'l', type: 'symlink', linkname: `${s.esc}/newdir/deeper` },
      { name: 'l/x', data: 'x' },
    ]);
    expectRefused(r.outcome);
  });

  it('15. a file replacing a directory that a symlink points through', async () => {
    const r = await attack([
      { name: 'dir/', type: 'dir' },
      { name: 'l', type: 'symlink', linkname: 'dir' },
      { name: 'dir', data: 'now a file' },
      { name: 'l/x', data: 'x' },
    ]);
    expectRefused(r.outcome, ErrorCode.InvalidArchive);
    const r2 = await attack((s) => [
      { name: 'dir/', type: 'dir' },
      { name: 'l', type: 'symlink', linkname: 'dir' },
      { name: 'l/ok', data: 'ok' },
      { name: 'dir', type: 'symlink', linkname: s.esc },
      { name: 'l/secret', data: 'x' },
    ]);
    expectRefused(r2.outcome, ErrorCode.UnsafeEntry, 'dir');
    // The same with the link out already in dest: the walk through it is refused.
    const r3 = await attack(
      [
        { name: 'dir/', type: 'dir' },
        { name: 'l', type: 'symlink', linkname: 'dir' },
        { name: 'l/ok', data: 'ok' },
        { name: 'dir', type: 'symlink', linkname: 'out' },
        { name: 'l/secret', data: 'x' },
      ],
      (s) => fs.symlinkSync(s.esc, join(s.dest, 'out')),
    );
    expectRefused(r3.outcome, ErrorCode.UnsafeEntry, 'l/secret');
  });
});

describe('hostile archives: hardlinks', () => {
  it('16. a hardlink to ../outside is refused', async () => {
    expectRefused((await attack((s) => [{ name: 'h', type: 'link', linkname: `${s.esc}/secret` }])).outcome);
    expectRefused((await attack([{ name: 'h', type: 'link', linkname: 'a/../../x' }])).outcome);
  });

  it('17. a hardlink to /etc/passwd names dest/etc/passwd, never the host file', async () => {
    expectRefused((await attack([{ name: 'h', type: 'link', linkname: '/etc/passwd' }])).outcome, ErrorCode.InvalidArchive);
    const { outcome, s } = await attack([
      { name: 'etc/passwd', data: 'in root' },
      { name: 'h', type: 'link', linkname: '/etc/passwd' },
    ]);
    expect(outcome.ok).toBe(true);
    expect(fs.statSync(join(s.dest, 'h')).ino).toBe(fs.statSync(join(s.dest, 'etc/passwd')).ino);
  });

  it('18. a hardlink whose target goes through a symlink out is refused', async () => {
    expectRefused(
      (
        await attack((s) => [
          { name: 'l', type: 'symlink', linkname: s.esc },
          { name: 'h', type: 'link', linkname: 'l/secret' },
        ])
      ).outcome,
    );
  });

  it('19. a hardlink to a symlink links the symlink: refused where that link would lead out', async () => {
    // A lower layer's symlink out, hardlinked: the new link would lead out too.
    const lower = (sc: Scene) => fs.symlinkSync(`${sc.esc}/secret`, join(sc.dest, 's'));
    expectRefused((await attack([{ name: 'h', type: 'link', linkname: 's' }], lower)).outcome, ErrorCode.UnsafeEntry, 'h');
    // Inside from its own directory, out from the hardlink's (a/b/s -> ../../x, h at the root).
    const deep: PyEntry[] = [
      { name: 'a/b/', type: 'dir' },
      { name: 'a/b/s', type: 'symlink', linkname: '../../x' },
    ];
    expectRefused((await attack([...deep, { name: 'h', type: 'link', linkname: 'a/b/s' }])).outcome, ErrorCode.UnsafeEntry, 'h');
    // ... and fine where it stays inside; absolute targets stay allowed.
    const { outcome, s } = await attack((sc) => [
      ...deep,
      { name: 'a/b/h', type: 'link', linkname: 'a/b/s' },
      { name: 'a/c/h', type: 'link', linkname: 'a/b/s', mode: 0o777 },
      { name: 'abs', type: 'symlink', linkname: `${sc.outside}/secret` },
      { name: 'h', type: 'link', linkname: 'abs' },
    ]);
    expect(outcome.ok).toBe(true);
    expect(fs.readlinkSync(join(s.dest, 'a/c/h'))).toBe('../../x');
    expect(fs.lstatSync(join(s.dest, 'h')).isSymbolicLink()).toBe(true);
  });

  it('20. aufs link-dir names cannot be used to climb out', async () => {
    expectRefused((await attack([{ name: `.wh..wh.plnk/../../../${TAG}`, data: 'x' }])).outcome);
    expectRefused((await attack((s) => [{ name: 'h', type: 'link', linkname: `.wh..wh.plnk/../${s.esc}/secret` }])).outcome);
  });
});

describe('hostile archives: whiteouts', () => {
  it('21. whiteouts of "", ".", ".." are refused at any depth', async () => {
    for (const name of ['.wh...', '.wh..', '.wh.', 'a/.wh...', 'a/b/.wh.', `../.wh.${TAG}`]) {
      expectRefused((await attack([{ name: 'a/b/keep', data: 'k' }, { name }])).outcome, ErrorCode.UnsafeEntry);
    }
  });

  it('22. whiteouts through a symlinked directory cannot reach out', async () => {
    expectRefused((await attack((s) => [{ name: 'x', type: 'symlink', linkname: s.esc }, { name: 'x/.wh.secret' }])).outcome);
    expectRefused((await attack((s) => [{ name: 'x', type: 'symlink', linkname: `${s.esc}/dir` }, { name: 'x/.wh.inner' }])).outcome);
    // Through an in-root symlink it removes the in-root object only.
    const { outcome, s } = await attack([
      { name: 'real/victim', data: 'v' },
      { name: 'x', type: 'symlink', linkname: 'real' },
      { name: 'x/.wh.victim' },
    ]);
    expect(outcome.ok).toBe(true);
    expect(fs.existsSync(join(s.dest, 'real/victim'))).toBe(false);
  });

  it('23. a whiteout naming a symlink removes the link, not its target', async () => {
    const { outcome, s } = await attack([{ name: '.wh.evil' }, { name: '.wh.evil-dir' }], (sc) => {
      fs.symlinkSync(`${sc.esc}/secret`, join(sc.dest, 'evil'));
      fs.symlinkSync(`${sc.esc}/dir`, join(sc.dest, 'evil-dir'));
    });
    expect(outcome.ok).toBe(true);
    expect(exists(join(s.dest, 'evil'))).toBe(false);
    expect(exists(join(s.dest, 'evil-dir'))).toBe(false);
  });

  it('24. an opaque whiteout in a symlinked directory does not wipe the target', async () => {
    const prepare = (s: Scene) => {
      fs.symlinkSync(s.esc, join(s.dest, 'evil'));
      fs.symlinkSync(s.outside, join(s.dest, 'evil-abs'));
      fs.mkdirSync(join(s.dest, 'mine'));
      fs.writeFileSync(join(s.dest, 'mine', 'kept'), 'k');
      fs.symlinkSync('mine', join(s.dest, 'alias'));
    };
    // Docker: Lstat + Walk of the symlink itself does nothing.
    const { outcome, s } = await attack(
      [{ name: 'evil/.wh..wh..opq' }, { name: 'evil-abs/.wh..wh..opq' }, { name: 'alias/.wh..wh..opq' }],
      prepare,
    );
    expect(outcome.ok).toBe(true);
    expect(fs.readFileSync(join(s.dest, 'mine/kept'), 'utf8')).toBe('k');
    expect(fs.readlinkSync(join(s.dest, 'evil'))).toBe(s.esc);
    // Below such a symlink the path is refused.
    expectRefused((await attack([{ name: 'evil/dir/.wh..wh..opq' }], prepare)).outcome);
  });

  it('25. an opaque whiteout at the root wipes only dest', async () => {
    const { outcome, s } = await attack([{ name: 'new', data: 'n' }, { name: '.wh..wh..opq' }], (sc) => {
      fs.writeFileSync(join(sc.dest, 'old'), 'o');
      fs.symlinkSync(sc.esc, join(sc.dest, 'evil'));
      fs.mkdirSync(join(sc.dest, 'olddir'));
      fs.symlinkSync(`../${sc.esc}`, join(sc.dest, 'olddir', 'evil'));
    });
    expect(outcome.ok).toBe(true);
    expect(fs.readdirSync(s.dest)).toEqual(['new']);
  });
});

describe('hostile archives: devices', () => {
  it.skipIf(!isRoot)('26. device nodes and fifos cannot be planted outside', async () => {
    expectRefused(
      (
        await attack((s) => [
          { name: 'l', type: 'symlink', linkname: s.esc },
          { name: `l/${TAG}`, type: 'block', devmajor: 8, devminor: 0 },
        ])
      ).outcome,
    );
    expectRefused((await attack([{ name: `../../${TAG}`, type: 'char', devmajor: 1, devminor: 3 }])).outcome);
    // A device over an existing symlink replaces the symlink.
    const { outcome, s } = await attack([{ name: 'evil', type: 'char', devmajor: 1, devminor: 3 }], (sc) =>
      fs.symlinkSync(`${sc.esc}/secret`, join(sc.dest, 'evil')),
    );
    expect(outcome.ok).toBe(true);
    expect(fs.lstatSync(join(s.dest, 'evil')).isCharacterDevice()).toBe(true);
  });
});
