import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, linkSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeKind, type Change } from '../driver.js';
import { readTar } from '../tar/reader.js';
import { readAll } from '../test-support/tar.js';
import type { TarHeader } from '../tar/types.js';
import { encodeHeader } from '../tar/writer.js';
import { changesDirs } from './changes.js';
import { exportChanges, tarDirectory } from './export.js';
import { UstarCache, encodeUstarInto } from '../tar/header-fast.js';
import { missingPrograms, requireBackingSystem } from '../testing/backing-system.js';
import {
  T0,
  capV2,
  capV3,
  copyTree,
  dir,
  file,
  isRoot,
  mknod,
  mustRun,
  rmrf,
  run,
  settle,
  socketFile,
  symlink,
  tmp,
  xattr,
} from '../test-support/trees.js';

let work: string;
beforeEach(() => {
  work = tmp('gd-export-');
});
afterEach(() => rmrf(work));

// The programs these cases check against; a missing one is core's loud skip (CI fails).
const gnuTar = requireBackingSystem("diff/export.test.ts's GNU tar case", missingPrograms(['tar']));
const python = requireBackingSystem("diff/export.test.ts's unix-socket entry (made by python3)", missingPrograms(['python3']));

/**
 * Host names of ids, looked up through libc (what Go's os/user does), not our parser: getent
 * (libc-bin, on every Debian system; exit 2 is "no such id").
 */
function hostName(db: 'passwd' | 'group', id: number): string | undefined {
  const r = run('getent', [db, String(id)]);
  if (r.status !== 0 && r.status !== 2) throw new Error(`getent ${db} ${id} exited ${r.status}: ${r.stderr}`);
  const line = r.stdout.trim();
  return line ? line.split(':')[0] : undefined;
}
const ROOT_USER = hostName('passwd', 0);
const ROOT_GROUP = hostName('group', 0);

interface Got {
  name: string;
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  uname?: string;
  gname?: string;
  dev?: string;
  xattrs?: Record<string, string>;
  sha?: string;
}

async function entries(stream: Readable): Promise<Got[]> {
  const all = await readAll(readTar(stream));
  return all.map(({ header: h, data }) => {
    const g: Got = { name: h.name, type: h.type, mode: h.mode.toString(8), uid: h.uid, gid: h.gid, size: h.size, mtime: h.mtime };
    if (h.linkname !== undefined) g.linkname = h.linkname;
    if (h.uname !== undefined) g.uname = h.uname;
    if (h.gname !== undefined) g.gname = h.gname;
    if (h.type === 'char' || h.type === 'block') g.dev = `${h.devmajor},${h.devminor}`;
    if (h.xattrs) g.xattrs = Object.fromEntries([...h.xattrs].map(([k, v]) => [k, v.toString('hex')]));
    if (data.length) g.sha = createHash('sha256').update(data).digest('hex').slice(0, 12);
    return g;
  });
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex').slice(0, 12);
/** Root-owned entry fields with the host's names for uid/gid 0. */
const owned = { uid: 0, gid: 0, ...(ROOT_USER ? { uname: ROOT_USER } : {}), ...(ROOT_GROUP ? { gname: ROOT_GROUP } : {}) };
const ownedBy = (uid: number, gid: number) => {
  const u = hostName('passwd', uid);
  const g = hostName('group', gid);
  return { uid, gid, ...(u ? { uname: u } : {}), ...(g ? { gname: g } : {}) };
};

describe('exportChanges', () => {
  it('writes the changes in path order, whiteouts for deletes, hardlinks after their first name', async () => {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const base = join(work, 'base');
    file(base, 'etc/motd', 'hello\n');
    file(base, 'etc/hostname', 'box\n');
    file(base, 'usr/share/doc/x/README', 'doc');
    file(base, 'bin/tool', 'tool', { mode: 0o755 });
    settle(base);

    const upper = join(work, 'upper');
    copyTree(base, upper);
    appendFileSync(join(upper, 'etc/motd'), 'world\n');
    rmSync(join(upper, 'etc/hostname'));
    rmSync(join(upper, 'usr/share/doc'), { recursive: true });
    chmodSync(join(upper, 'bin/tool'), 0o4755);
    dir(upper, 'opt/a', { mode: 0o750 });
    file(upper, 'opt/a/f', 'data', { mode: 0o640 });
    symlink(upper, 'opt/a/link', 'f');
    file(upper, 'opt/a/h1', 'linked');
    linkSync(join(upper, 'opt/a/h1'), join(upper, 'opt/a/h2'));
    dir(upper, 'tmp', { mode: 0o1777 });
    const longDir = 'd'.repeat(60);
    const longName = `${'n'.repeat(80)}.txt`;
    file(upper, `opt/${longDir}/${longName}`, 'long');
    if (python) socketFile(upper, 'opt/sock');
    settle(upper);
    chmodSync(join(upper, 'tmp'), 0o1777);
    utimesSync(join(upper, 'etc/motd'), T0 + 10.9, T0 + 10.9); // written as T0 + 10

    const changes = await changesDirs(upper, base);
    const got = await entries(exportChanges(upper, changes));

    const me = ownedBy(uid, gid);
    // a whiteout carries its directory's time, not the time of the export: the same layer
    // exported later gives the same bytes
    const wh = got.filter((e) => e.name.includes('.wh.'));
    expect(wh.length).toBeGreaterThan(0);
    expect(wh.map((w) => w.mtime)).toEqual(wh.map(() => T0));
    for (const w of wh) w.mtime = 0;
    await new Promise((r) => setTimeout(r, 1100));
    expect(await entries(exportChanges(upper, changes))).toEqual(got.map((e) => (e.name.includes('.wh.') ? { ...e, mtime: T0 } : e)));
    expect(got).toEqual([
      { name: 'bin/', type: 'directory', mode: '755', ...me, size: 0, mtime: T0 },
      { name: 'bin/tool', type: 'file', mode: '4755', ...me, size: 4, mtime: T0, sha: sha('tool') },
      { name: 'etc/', type: 'directory', mode: '755', ...me, size: 0, mtime: T0 },
      // Docker's whiteout: a name and a time, everything else zero
      { name: 'etc/.wh.hostname', type: 'file', mode: '0', uid: 0, gid: 0, size: 0, mtime: 0 },
      { name: 'etc/motd', type: 'file', mode: '644', ...me, size: 12, mtime: T0 + 10, sha: sha('hello\nworld\n') },
      { name: 'opt/', type: 'directory', mode: '755', ...me, size: 0, mtime: T0 },
      { name: 'opt/a/', type: 'directory', mode: '750', ...me, size: 0, mtime: T0 },
      { name: 'opt/a/f', type: 'file', mode: '640', ...me, size: 4, mtime: T0, sha: sha('data') },
      { name: 'opt/a/h1', type: 'file', mode: '644', ...me, size: 6, mtime: T0, sha: sha('linked') },
      { name: 'opt/a/h2', type: 'hardlink', mode: '644', ...me, size: 0, mtime: T0, linkname: 'opt/a/h1' },
      { name: 'opt/a/link', type: 'symlink', mode: '777', ...me, size: 0, mtime: T0, linkname: 'f' },
      { name: `opt/${longDir}/`, type: 'directory', mode: '755', ...me, size: 0, mtime: T0 },
      { name: `opt/${longDir}/${longName}`, type: 'file', mode: '644', ...me, size: 4, mtime: T0, sha: sha('long') },
      // (a socket is not archivable: Go's FileInfoHeader refuses it, Docker skips it)
      { name: 'tmp/', type: 'directory', mode: '1777', ...me, size: 0, mtime: T0 },
      { name: 'usr/', type: 'directory', mode: '755', ...me, size: 0, mtime: T0 },
      { name: 'usr/share/', type: 'directory', mode: '755', ...me, size: 0, mtime: T0 },
      { name: 'usr/share/.wh.doc', type: 'file', mode: '0', uid: 0, gid: 0, size: 0, mtime: 0 },
    ]);
    if (python) expect(changes.some((c) => c.path === '/opt/sock')).toBe(true);
  });

  it('archives a hardlinked file in full when its first name is not part of the changes', async () => {
    const root = join(work, 'layer');
    file(root, 'a', 'same inode');
    linkSync(join(root, 'a'), join(root, 'b'));
    settle(root);
    const got = await entries(exportChanges(root, [{ path: '/b', kind: ChangeKind.Add }]));
    expect(got.map((e) => [e.name, e.type, e.size])).toEqual([['b', 'file', 10]]);
  });

  it('sorts the changes it is given and skips paths that vanished', async () => {
    const root = join(work, 'layer');
    file(root, 'x/y', '1');
    file(root, 'x-z', '2');
    settle(root);
    const changes: Change[] = [
      { path: '/x/y', kind: ChangeKind.Add },
      { path: '/x-z', kind: ChangeKind.Add },
      { path: '/gone', kind: ChangeKind.Add },
      { path: '/x', kind: ChangeKind.Add },
      { path: '/old', kind: ChangeKind.Delete },
    ];
    const got = await entries(exportChanges(root, changes));
    expect(got.map((e) => e.name)).toEqual(['.wh.old', 'x/', 'x-z', 'x/y']);
  });

  it('refuses change paths that could leave the layer', async () => {
    const root = join(work, 'layer');
    file(root, 'x', '1');
    for (const path of ['/../etc/shadow', '/x/../../y', '/./x', '/a/..']) {
      await expect(entries(exportChanges(root, [{ path, kind: ChangeKind.Add }]))).rejects.toMatchObject({ code: 'ERR_UNSAFE_ENTRY' });
    }
  });

  it('streams big files through the thread-pool path byte for byte, with bounded buffering', async () => {
    const root = join(work, 'layer');
    const big = randomBytes(21 * 1024 * 1024 + 123); // more than the chunks in hand
    file(root, 'big', big);
    file(root, 'mid', randomBytes(100_000));
    file(root, 'small', 'after');
    settle(root);
    const all = await readAll(readTar(tarDirectory(root)));
    expect(all.map((e) => [e.header.name, e.data.length])).toEqual([
      ['big', big.length],
      ['mid', 100_000],
      ['small', 5],
    ]);
    expect(all[0].data.equals(big)).toBe(true);
  });

  it('keeps the archive well formed when a file shrinks while being archived', async () => {
    const root = join(work, 'layer');
    const size = 30 * 1024 * 1024; // more than the chunks in hand, so reads go on after the first push
    const p = file(root, 'shrinks', Buffer.alloc(size, 1));
    file(root, 'z', 'last');
    const stream = tarDirectory(root);
    const it = stream[Symbol.asyncIterator]();
    const first = (await it.next()).value as Buffer;
    truncateSync(p, 1000); // the header already says `size`
    const parts: Buffer[] = [first];
    for (let r = await it.next(); !r.done; r = await it.next()) parts.push(r.value as Buffer);
    const all = await readAll(
      readTar(
        (async function* () {
          yield Buffer.concat(parts);
        })(),
      ),
    );
    expect(all.map((e) => [e.header.name, e.header.size, e.data.length])).toEqual([
      ['shrinks', size, size],
      ['z', 4, 4],
    ]);
    // what was read before the cut is data, the rest zeros
    expect(all[0].data.subarray(0, 1000).equals(Buffer.alloc(1000, 1))).toBe(true);
    expect(all[0].data.subarray(size - 1000).equals(Buffer.alloc(1000))).toBe(true);
  });

  it('closes every file it opened when destroyed midway', async () => {
    const root = join(work, 'layer');
    for (let i = 0; i < 20; i++) file(root, `f${i}`, randomBytes(300_000));
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const stream = tarDirectory(root);
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.destroy();
    // the closes run on the thread pool: wait for them (a fixed 50 ms was flaky under load)
    await vi.waitFor(() => expect(fds()).toBe(before), { timeout: 10_000, interval: 20 });
  });

  describe.runIf(isRoot)('as root', () => {
    it('archives devices, fifos, owners and every xattr, security.capability as Docker writes it', async () => {
      const root = join(work, 'layer');
      mknod(root, 'dev/null', 'c', 1, 3, 0o666);
      mknod(root, 'dev/sda', 'b', 8, 0, 0o660);
      mknod(root, 'dev/big', 'c', 300, 70000, 0o600); // numbers past the old 8-bit fields
      mknod(root, 'run/fifo', 'p', 0, 0, 0o600);
      file(root, 'bin/ping', 'elf', { mode: 0o755, uid: 1000, gid: 1001 });
      xattr(join(root, 'bin/ping'), 'security.capability', capV3(1 << 13, 1000));
      xattr(join(root, 'bin/ping'), 'user.note', Buffer.from([0, 1, 2, 0xff]));
      file(root, 'bin/v2', 'elf');
      xattr(join(root, 'bin/v2'), 'security.capability', capV2(1 << 10));
      settle(root);
      const got = await entries(tarDirectory(root));
      const v3as2 = capV3(1 << 13, 1000).subarray(0, 20);
      v3as2[3] = 2;
      expect(got).toEqual([
        { name: 'bin/', type: 'directory', mode: '755', ...owned, size: 0, mtime: T0 },
        {
          name: 'bin/ping',
          type: 'file',
          mode: '755',
          ...ownedBy(1000, 1001),
          size: 3,
          mtime: T0,
          sha: sha('elf'),
          xattrs: { 'security.capability': v3as2.toString('hex'), 'user.note': '000102ff' },
        },
        {
          name: 'bin/v2',
          type: 'file',
          mode: '644',
          ...owned,
          size: 3,
          mtime: T0,
          sha: sha('elf'),
          xattrs: { 'security.capability': capV2(1 << 10).toString('hex') },
        },
        { name: 'dev/', type: 'directory', mode: '755', ...owned, size: 0, mtime: T0 },
        { name: 'dev/big', type: 'char', mode: '600', ...owned, size: 0, mtime: T0, dev: '300,70000' },
        { name: 'dev/null', type: 'char', mode: '666', ...owned, size: 0, mtime: T0, dev: '1,3' },
        { name: 'dev/sda', type: 'block', mode: '660', ...owned, size: 0, mtime: T0, dev: '8,0' },
        { name: 'run/', type: 'directory', mode: '755', ...owned, size: 0, mtime: T0 },
        { name: 'run/fifo', type: 'fifo', mode: '600', ...owned, size: 0, mtime: T0 },
      ]);
    });
  });
});

describe('tarDirectory', () => {
  it('is filepath.Walk order with no entry for the root, names relative', async () => {
    const root = join(work, 'tree');
    file(root, 'a/x', 'x');
    file(root, 'a-b', 'ab');
    file(root, 'a.c', 'ac');
    dir(root, 'a/empty');
    symlink(root, 'z', '/a/x');
    settle(root);
    const got = await entries(tarDirectory(root));
    // pre-order, siblings byte-sorted: "a" < "a-b" < "a.c", and a's children right after it
    expect(got.map((e) => e.name)).toEqual(['a/', 'a/empty/', 'a/x', 'a-b', 'a.c', 'z']);
    expect(got.find((e) => e.name === 'z')).toMatchObject({ type: 'symlink', linkname: '/a/x', mode: '777' });
  });

  it('fails on a file name that is not UTF-8 rather than leave it out', async () => {
    const root = join(work, 'tree');
    file(root, 'a', 'x');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xc3, 0x28])]), 'bad');
    await expect(entries(tarDirectory(root))).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_ENTRY' });
  });

  it('archives a lone file under its base name, and an empty directory as an empty archive', async () => {
    const f = file(work, 'lone.txt', 'alone');
    expect((await entries(tarDirectory(f))).map((e) => [e.name, e.size])).toEqual([['lone.txt', 5]]);
    const d = dir(work, 'empty');
    const bytes: Buffer[] = [];
    for await (const c of tarDirectory(d)) bytes.push(c as Buffer);
    expect(Buffer.concat(bytes)).toEqual(Buffer.alloc(1024)); // just the end-of-archive blocks
  });

  it('writes the mode field as Docker does: st_mode with its file-type bits', async () => {
    const root = join(work, 'tree');
    file(root, 'd/f', 'x', { mode: 0o644 });
    file(root, 'd/suid', 'x', { mode: 0o4755 });
    linkSync(join(root, 'd/f'), join(root, 'd/g'));
    dir(root, 'sticky', { mode: 0o1777 });
    symlink(root, 'l', 'd/f');
    if (isRoot) {
      mknod(root, 'dev/null', 'c', 1, 3, 0o666);
      mknod(root, 'dev/sda', 'b', 8, 0, 0o660);
      mknod(root, 'fifo', 'p', 0, 0, 0o600);
    }
    settle(root);
    const chunks: Buffer[] = [];
    for await (const c of tarDirectory(root)) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    // Straight from the header blocks: readTar keeps only the permission bits.
    const modes: Record<string, string> = {};
    for (let off = 0; off < tar.length && tar[off] !== 0; ) {
      const field = (o: number, n: number) => tar.toString('latin1', off + o, off + o + n).replace(/\0.*$/s, '');
      modes[field(0, 100)] = `${field(156, 1)} ${field(100, 8)}`;
      off += 512 + Math.ceil(parseInt(field(124, 12), 8) / 512) * 512;
    }
    expect(modes).toMatchObject({
      'd/': '5 0040755',
      'd/f': '0 0100644',
      'd/g': '1 0100644', // a hardlink carries its inode's mode
      'd/suid': '0 0104755',
      l: '2 0120777',
      'sticky/': '5 0041777',
    });
    if (isRoot) expect(modes).toMatchObject({ 'dev/null': '3 0020666', 'dev/sda': '4 0060660', fifo: '6 0010600' });
  });

  it('keeps the first name of a hardlinked inode and links the later ones to it', async () => {
    const root = join(work, 'tree');
    file(root, 'b/one', 'payload');
    linkSync(join(root, 'b/one'), join(root, 'a'));
    linkSync(join(root, 'b/one'), join(root, 'c'));
    settle(root);
    const got = await entries(tarDirectory(root));
    expect(got.map((e) => [e.name, e.type, e.linkname ?? '', e.size])).toEqual([
      ['a', 'file', '', 7],
      ['b/', 'directory', '', 0],
      ['b/one', 'hardlink', 'a', 0],
      ['c', 'hardlink', 'a', 0],
    ]);
  });

  it.runIf(gnuTar)('is read by GNU tar without a word', async () => {
    const root = join(work, 'tree');
    file(root, 'etc/passwd', 'root:x:0:0::/root:/bin/sh\n');
    file(root, `deep/${'x'.repeat(120)}/${'y'.repeat(120)}`, 'deep');
    symlink(root, 'l', 'x'.repeat(150));
    file(root, 'ünïcødé', 'u');
    settle(root);
    const out = join(work, 'out.tar');
    const chunks: Buffer[] = [];
    for await (const c of tarDirectory(root)) chunks.push(c as Buffer);
    writeFileSync(out, Buffer.concat(chunks));
    const list = mustRun('tar', ['-tvf', out]);
    expect(list.stderr).toBe('');
    expect(list.stdout).toContain('ünïcødé');
    const dest = join(work, 'x');
    mustRun('mkdir', [dest]);
    const x = mustRun('tar', ['-xf', out, '-C', dest]);
    expect(x.stderr).toBe('');
    expect(mustRun('diff', ['-r', '--no-dereference', root, dest]).stdout).toBe('');
  });
});

describe('encodeUstarInto', () => {
  it('writes exactly what encodeHeader writes, or declines', () => {
    const types = ['file', 'directory', 'symlink', 'hardlink', 'char', 'block', 'fifo'] as const;
    const names = [
      'a',
      'etc/passwd',
      'dir/',
      'x'.repeat(100),
      'y'.repeat(101),
      `${'p'.repeat(150)}/${'n'.repeat(99)}`,
      `${'p'.repeat(155)}/n`,
      `${'p'.repeat(156)}/n`,
      'ünï',
      'tab\there',
      '',
    ];
    const numbers = [0, 1, 0o777, 0o7777777, 0o10000000, 8 ** 11 - 1, 8 ** 11, 2 ** 32 + 5, 0.5, -1];
    // One cache for every header: templates are reused, and rebuilt when the names differ.
    const cache = new UstarCache();
    let fast = 0;
    let i = 0;
    for (const type of types) {
      for (const name of names) {
        for (const n of numbers) {
          i++;
          const fileTypeBits = i % 3 !== 2;
          const h: TarHeader = {
            name,
            type,
            mode: [0o644, 0o4755, 0o1777, 0o100644, 0o40755, 0o120777, 0o20666, 0o60660, 0o10600][i % 9],
            uid: i % 3 === 0 ? n : 1000,
            gid: i % 3 === 1 ? n : 1000,
            size: n,
            mtime: i % 5 === 0 ? n + 0.5 : n,
            uname: i % 7 === 0 ? 'u'.repeat(33) : i % 7 === 1 ? 'ü' : 'root',
            gname: i % 6 === 0 ? '' : 'wheel',
            linkname: type === 'symlink' || type === 'hardlink' ? (i % 2 ? 'target' : 't'.repeat(101)) : undefined,
            devmajor: type === 'char' || type === 'block' ? n % 0o10000000 : undefined,
            devminor: type === 'char' || type === 'block' ? [7, 0, n][i % 3] : undefined,
            xattrs: i % 11 === 0 ? new Map([['user.a', Buffer.from('b')]]) : undefined,
          };
          let want: Buffer | Error;
          try {
            want = encodeHeader(h, { fileTypeBits });
          } catch (err) {
            want = err as Error;
          }
          const buf = Buffer.alloc(1024, 0xaa);
          const ok = encodeUstarInto(h, buf, 512, fileTypeBits, i % 2 ? cache : undefined);
          if (ok) {
            fast++;
            expect(want).toBeInstanceOf(Buffer);
            expect((want as Buffer).length).toBe(512);
            expect(buf.subarray(512).equals(want as Buffer)).toBe(true);
            expect(buf.subarray(0, 512).equals(Buffer.alloc(512, 0xaa))).toBe(true);
          } else {
            expect(buf.equals(Buffer.alloc(1024, 0xaa))).toBe(true);
            if (Buffer.isBuffer(want)) expect(want.length).toBeGreaterThan(512); // PAX or nothing
          }
        }
      }
    }
    expect(fast).toBeGreaterThan(50);
  });
});
