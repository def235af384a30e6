// The send stream reader against btrfs-progs' own (`receive --dump`), and the mapping of a
// stream's operations to the paths they touch.
import { chmod, link, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ToolError } from '@graphdriver/core';
import { createBtrfs } from './btrfs.js';
import { parseReceiveDump } from './receive-dump.js';
import { parseSendStream, SendCommand, SendStreamError, SendStreamReader, type SendOp } from './send-stream.js';
import { btrfsAvailable, useLoopbackBtrfs } from './test-support/loopback-btrfs.js';
import { touchedPaths } from './touched-paths.js';

const btrfs = createBtrfs();
const simple = (ops: SendOp[]) =>
  ops
    .filter((o) => o.cmd !== SendCommand.End)
    .map((o) => [o.cmd, o.path ?? null, o.pathTo ?? null, o.cmd === SendCommand.Symlink ? null : (o.pathLink ?? null)]);

describe.runIf(btrfsAvailable)('send stream of a real pair of snapshots', () => {
  const lb = useLoopbackBtrfs(512 << 20);

  it('reads the same operations as `btrfs receive --dump`, odd names included', async () => {
    const dir = lb.fs().mountpoint;
    const p = join(dir, 'parent');
    const c = join(dir, 'child');
    await btrfs.subvolumeCreate(p);
    const odd = ['with space', 'tab\there', 'back\\slash', 'ünïcødé ✓', 'new\nline', 'dash-'];
    await mkdir(join(p, 'd/e'), { recursive: true });
    for (const n of odd) await writeFile(join(p, 'd', n), n);
    await writeFile(join(p, 'g'), 'g');
    await btrfs.subvolumeSnapshot(p, c);
    await rename(join(c, 'd'), join(c, 'd moved'));
    await link(join(c, 'g'), join(c, 'g link ✓'));
    await writeFile(join(c, 'g'), 'changed');
    await chmod(join(c, 'g'), 0o600);
    await symlink('target with space', join(c, 'sym ✓'));
    await rm(join(c, 'd moved', 'with space'));
    await mkdir(join(c, 'fresh dir'));
    await writeFile(join(c, 'fresh dir', 'new\nline'), 'x');
    await btrfs.subvolumeSnapshot(p, `${p}.ro`, { readonly: true });
    await btrfs.subvolumeSnapshot(c, `${c}.ro`, { readonly: true });
    const file = join(dir, 'stream');
    await btrfs.send(`${c}.ro`, file, { parent: `${p}.ro`, noData: true });
    const binary = parseSendStream(await readFile(file));
    expect(binary.version).toBe(1);
    const dumped = parseReceiveDump(await btrfs.receiveDump(file));
    expect(simple(binary.ops)).toEqual(simple(dumped));
    expect(binary.ops[0]).toMatchObject({ cmd: SendCommand.Snapshot, path: 'child.ro' });
    expect(binary.ops.at(-1)?.cmd).toBe(SendCommand.End);
    expect(binary.ops).toContainEqual({ cmd: SendCommand.Rename, path: 'd', pathTo: 'd moved' });
    expect(binary.ops).toContainEqual({ cmd: SendCommand.Link, path: 'g link ✓', pathLink: 'g' });
    expect(binary.ops).toContainEqual({ cmd: SendCommand.Unlink, path: 'd moved/with space' });

    const t = touchedPaths(binary.ops);
    for (const want of ['d moved', 'g', 'g link ✓', 'sym ✓', 'fresh dir', 'fresh dir/new\nline', 'd moved/with space']) {
      expect(t.newPaths).toContain(want);
    }
    expect(t.oldPaths).toContain('d');
    expect(t.oldPaths).toContain('d/with space');

    // the same stream through a pipe, read as it comes and in pieces of every size
    const chunks: Buffer[] = [];
    await btrfs.sendTo(`${c}.ro`, (chunk) => chunks.push(chunk), { parent: `${p}.ro`, noData: true });
    const piped = Buffer.concat(chunks);
    expect(piped.equals(await readFile(file))).toBe(true);
    for (const size of [1, 7, 64, 4096]) {
      const ops: SendOp[] = [];
      const reader = new SendStreamReader((op) => ops.push(op));
      for (let off = 0; off < piped.length; off += size) reader.push(piped.subarray(off, off + size));
      reader.end();
      expect(reader.done).toBe(true);
      expect(ops).toEqual(binary.ops);
    }
    // a failing consumer stops the process; so does a signal
    await expect(
      btrfs.sendTo(
        `${c}.ro`,
        () => {
          throw new Error('consumer gave up');
        },
        { parent: `${p}.ro`, noData: true },
      ),
    ).rejects.toThrow('consumer gave up');
    await expect(btrfs.sendTo(`${c}.ro`, () => {}, { parent: `${p}.ro`, noData: true, signal: AbortSignal.abort() })).rejects.toThrow(
      /abort/i,
    );
    await expect(btrfs.sendTo(join(dir, 'missing'), () => {}, { noData: true })).rejects.toBeInstanceOf(ToolError);
  });
});

describe('send stream reader', () => {
  const header = (version = 1) => Buffer.concat([Buffer.from('btrfs-stream\0', 'latin1'), u32(version)]);
  function u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  }
  function cmd(c: number, attrs: Array<[number, Buffer]>) {
    const payload = Buffer.concat(
      attrs.map(([t, v]) => {
        const h = Buffer.alloc(4);
        h.writeUInt16LE(t, 0);
        h.writeUInt16LE(v.length, 2);
        return Buffer.concat([h, v]);
      }),
    );
    const h = Buffer.alloc(10);
    h.writeUInt32LE(payload.length, 0);
    h.writeUInt16LE(c, 4);
    return Buffer.concat([h, payload]);
  }

  it('parses commands and path attributes', () => {
    const s = Buffer.concat([
      header(),
      cmd(SendCommand.Rename, [
        [15, Buffer.from('a')],
        [16, Buffer.from('b/c')],
      ]),
      cmd(SendCommand.Symlink, [
        [15, Buffer.from('l')],
        [17, Buffer.from('../x')],
        [3, Buffer.alloc(8, 1)],
      ]),
      cmd(SendCommand.End, []),
    ]);
    expect(parseSendStream(s).ops).toEqual([
      { cmd: SendCommand.Rename, path: 'a', pathTo: 'b/c' },
      { cmd: SendCommand.Symlink, path: 'l', pathLink: '../x', ino: 0x0101010101010101n },
      { cmd: SendCommand.End },
    ]);
  });

  it('refuses bad magic, truncation and names that are not UTF-8', () => {
    expect(() => parseSendStream(Buffer.from('not a stream at all'))).toThrow(SendStreamError);
    const good = Buffer.concat([header(), cmd(SendCommand.Unlink, [[15, Buffer.from('abc')]])]);
    expect(() => parseSendStream(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(() => parseSendStream(Buffer.concat([header(9)]))).toThrow(/version/);
    expect(() => parseSendStream(Buffer.concat([header(), cmd(SendCommand.Unlink, [[15, Buffer.from([0x66, 0xff])]])]))).toThrow(/UTF-8/);
    // read in pieces: bad magic is seen early, a cut-short stream at the end
    expect(() => new SendStreamReader(() => {}).push(Buffer.from('btrfs-x'))).toThrow(/magic/);
    const reader = new SendStreamReader(() => {});
    reader.push(good.subarray(0, 20));
    expect(() => reader.end()).toThrow(/truncated/);
    expect(() => new SendStreamReader(() => {}).end()).toThrow(/empty/);
  });
});

describe('touched paths', () => {
  const op = (cmd: number, path: string, extra: Partial<SendOp> = {}): SendOp => ({ cmd, path, ...extra });

  it('follows an orphan through its rename to its final name', () => {
    const t = touchedPaths([
      op(SendCommand.Mkdir, 'o300-5-0'),
      op(SendCommand.Rename, 'o300-5-0', { pathTo: 'a/new' }),
      op(SendCommand.Mkfile, 'o301-5-0'),
      op(SendCommand.Rename, 'o301-5-0', { pathTo: 'a/new/f' }),
      op(SendCommand.Chmod, 'a/new/f'),
    ]);
    expect([...t.newPaths].sort()).toEqual(['a/new', 'a/new/f']);
  });

  it('names what an operation under a moved directory touched in both trees', () => {
    const t = touchedPaths([
      op(SendCommand.Rename, 'd', { pathTo: 'o257-1-0' }),
      op(SendCommand.Unlink, 'o257-1-0/x'),
      op(SendCommand.Chmod, 'o257-1-0/y'),
      op(SendCommand.Rename, 'o257-1-0', { pathTo: 'e/d2' }),
    ]);
    expect([...t.newPaths].sort()).toEqual(['e/d2', 'e/d2/x', 'e/d2/y']);
    expect(t.oldPaths).toContain('d');
    expect(t.oldPaths).toContain('d/x');
    expect(t.oldPaths).toContain('d/y');
  });

  it('a swap of two names keeps each entry with its origin', () => {
    const t = touchedPaths([
      op(SendCommand.Rename, 'a', { pathTo: 'o9-1-0' }),
      op(SendCommand.Rename, 'b', { pathTo: 'a' }),
      op(SendCommand.Rename, 'o9-1-0', { pathTo: 'b' }),
      op(SendCommand.Utimes, 'a/inner'),
    ]);
    expect([...t.newPaths].sort()).toEqual(['a', 'a/inner', 'b']);
    // a/inner is the entry that was b/inner in the parent
    expect(t.oldPaths).toContain('b/inner');
  });

  it('a rename over an existing name counts what was there as gone', () => {
    const t = touchedPaths([op(SendCommand.Chmod, 'x/deep'), op(SendCommand.Rename, 'y', { pathTo: 'x' })]);
    expect(t.oldPaths).toContain('x/deep');
    expect(t.oldPaths).toContain('x');
    expect(t.newPaths).toContain('x');
  });

  it('ignores the subvolume commands and a symlink target', () => {
    const t = touchedPaths([
      op(SendCommand.Snapshot, 'child.ro'),
      op(SendCommand.Symlink, 'l', { pathLink: '../../etc/passwd' }),
      { cmd: SendCommand.End },
    ]);
    expect([...t.newPaths]).toEqual(['l']);
  });
});
