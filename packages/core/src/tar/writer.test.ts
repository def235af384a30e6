import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { BLOCK_SIZE, F } from './constants.js';
import { END_OF_ARCHIVE, encodeHeader, packEntries, padding, readTar, type PackEntry } from './index.js';
import { chunked, isRoot, oddChunks, readAll, run, sha256 } from '../test-support/tar.js';
import { missingPrograms, requireBackingSystem } from '../testing/backing-system.js';
import type { TarHeader } from './types.js';

// The readers we check our archives against; a missing one is core's loud skip (CI fails).
const liveGo = requireBackingSystem("tar/writer.test.ts's live Go run", missingPrograms(['go']));
const gnuTar = requireBackingSystem("tar/writer.test.ts's GNU tar cases", missingPrograms(['tar']));
const python = requireBackingSystem("tar/writer.test.ts's Python tarfile cases", missingPrograms(['python3']));

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tar-writer-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function toBuffer(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode, message?: RegExp) {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeDefined();
  if (!isGraphDriverError(err, code)) throw err;
  if (message) expect((err as Error).message).toMatch(message);
}

const text = (b: Buffer, [off, len]: readonly [number, number]) => b.toString('latin1', off, off + len);
const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');

interface Spec {
  header: TarHeader;
  data?: Buffer;
}

const base = { mode: 0o644, uid: 1000, gid: 1000, mtime: 1_700_000_000 };
/** Headers covering every branch of the writer; deterministic so the output hash is stable. */
function specs(): Spec[] {
  const f = (name: string, extra: Partial<TarHeader> = {}, data?: Buffer): Spec => ({
    header: { ...base, name, type: 'file', size: data?.length ?? 0, ...extra },
    data,
  });
  return [
    { header: { ...base, name: 'd', type: 'directory', size: 0, mode: 0o755, uname: 'user', gname: 'group' } },
    f('d/f', { uname: 'user', gname: 'group' }, Buffer.from('hello world\n')),
    f('d/setuid', { mode: 0o4755 }, Buffer.alloc(513, 0x61)),
    f('d/empty'),
    { header: { ...base, name: 'd/s', type: 'symlink', size: 0, linkname: 'f' } },
    { header: { ...base, name: 'd/h', type: 'hardlink', size: 0, linkname: 'd/f' } },
    { header: { ...base, name: 'dev/null', type: 'char', size: 0, mode: 0o666, devmajor: 1, devminor: 3 } },
    { header: { ...base, name: 'dev/sda', type: 'block', size: 0, mode: 0o660, devmajor: 8, devminor: 0 } },
    { header: { ...base, name: 'p', type: 'fifo', size: 0 } },
    { header: { ...base, name: 'sticky/', type: 'directory', size: 0, mode: 0o1777 } },
    f(`${'p'.repeat(140)}/${'n'.repeat(90)}`, {}, Buffer.from('split')), // fits ustar prefix/name
    f('x'.repeat(100)),
    f('y'.repeat(101)),
    f(`long/${'z'.repeat(300)}`, {}, Buffer.from('long')),
    { header: { ...base, name: `${'q'.repeat(99)}/${'r'.repeat(150)}`, type: 'directory', size: 0 } }, // cut name ends in "/"
    { header: { ...base, name: 'longsym', type: 'symlink', size: 0, linkname: 'target/'.repeat(40) } },
    f('ünï/ファイル.txt', {}, Buffer.from('unicode')),
    f('unames', { uname: 'ü'.repeat(3), gname: 'g'.repeat(40) }),
    f('ids-fit', { uid: 2 ** 21 - 1, gid: 2 ** 21 - 1 }),
    f('ids-big', { uid: 2 ** 24, gid: 2 ** 21 }),
    f(
      'caps',
      {
        xattrs: new Map([
          ['security.capability', cap],
          ['user.bin', Buffer.from([0xff, 0x0a, 0x3d, 0x00, 0x20])],
          ['user.empty', Buffer.alloc(0)],
          ['trusted.ü', Buffer.from('x')],
        ]),
      },
      Buffer.from('caps'),
    ),
    f(`${'s'.repeat(140)}/${'t'.repeat(90)}`, { xattrs: new Map([['user.a', Buffer.from('1')]]) }), // splittable but PAX anyway
    f('frac', { mtime: 1_700_000_000.5 }),
    f('negative', { mtime: -86_400 }),
    f('epoch', { mtime: 0 }),
  ];
}

/** What the reader gives back for a spec: dir names end in "/", sizes only for files. */
function expectedBack(h: TarHeader): TarHeader {
  const e: TarHeader = { ...h };
  if (e.type === 'directory' && !e.name.endsWith('/')) e.name += '/';
  for (const k of ['uname', 'gname', 'linkname', 'devmajor', 'devminor', 'xattrs'] as const) if (e[k] === undefined) delete e[k];
  if (e.type === 'char' || e.type === 'block') {
    e.devmajor ??= 0;
    e.devminor ??= 0;
  }
  return e;
}

const pack = (list: Spec[]) => packEntries(list.map(({ header, data }) => ({ header, body: data })));

describe('encodeHeader', () => {
  it('writes a plain ustar block like Go does', () => {
    const b = encodeHeader({ name: 'dir/file', type: 'file', mode: 0o100644, uid: 1000, gid: 100, size: 5, mtime: 1_700_000_000.0 });
    expect(b.length).toBe(BLOCK_SIZE);
    expect(text(b, F.name)).toBe('dir/file'.padEnd(100, '\0'));
    expect(text(b, F.mode)).toBe('0000644\0');
    expect(text(b, F.uid)).toBe('0001750\0');
    expect(text(b, F.gid)).toBe('0000144\0');
    expect(text(b, F.size)).toBe('00000000005\0');
    expect(text(b, F.mtime)).toBe(`${(1_700_000_000).toString(8)}\0`);
    expect(text(b, F.chksum)).toMatch(/^[0-7]{6}\0 $/);
    expect(text(b, F.typeflag)).toBe('0');
    expect(text(b, F.magic) + text(b, F.version)).toBe('ustar\x0000');
    expect(text(b, F.devmajor) + text(b, F.devminor)).toBe('0000000\x000000000\0');
    expect(text(b, F.uname)).toBe('\0'.repeat(32));
  });

  it('keeps the file-type bits of the mode when asked (as Docker writes them)', () => {
    const h = { name: 'f', type: 'file', mode: 0o104755, uid: 0, gid: 0, size: 0, mtime: 0 } as const;
    expect(text(encodeHeader(h), F.mode)).toBe('0004755\0');
    expect(text(encodeHeader(h, { fileTypeBits: true }), F.mode)).toBe('0104755\0');
    expect(text(encodeHeader({ ...h, name: 'd', type: 'directory', mode: 0o40755 }, { fileTypeBits: true }), F.mode)).toBe('0040755\0');
    // Bits above the 16 of st_mode never reach the field.
    expect(text(encodeHeader({ ...h, mode: 0o7100644 }, { fileTypeBits: true }), F.mode)).toBe('0100644\0');
  });

  it('adds the trailing "/" to directory names', () => {
    expect(text(encodeHeader({ name: 'a/b', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 }), F.name)).toMatch(
      /^a\/b\/\0/,
    );
  });

  it.each([
    ['short ASCII name', { name: 'a'.repeat(100) }, false],
    ['long name that splits into prefix/name', { name: `${'a'.repeat(150)}/${'b'.repeat(100)}` }, false],
    ['uid just in octal range', { uid: 2 ** 21 - 1 }, false],
    ['size just under 8 GiB', { size: 8 * 1024 ** 3 - 1 }, false],
    ['long unsplittable name', { name: 'a'.repeat(101) }, true],
    ['non-ASCII name', { name: 'é' }, true],
    ['long uname', { uname: 'u'.repeat(33) }, true],
    ['non-ASCII gname', { gname: 'grüppe' }, true],
    ['uid 2^21', { uid: 2 ** 21 }, true],
    ['size 8 GiB', { size: 8 * 1024 ** 3 }, true],
    ['fractional mtime', { mtime: 1.25 }, true],
    ['mtime past 2242', { mtime: 8 ** 11 }, true],
    ['xattrs', { xattrs: new Map([['user.x', Buffer.alloc(0)]]) }, true],
  ] as const)('%s: PAX=%s', (_why, over, pax) => {
    const b = encodeHeader({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, ...over });
    expect(b.length > BLOCK_SIZE).toBe(pax);
    if (pax) expect(text(b, F.typeflag)).toBe('x');
  });

  it('writes PAX records sorted, byte-counted, with fields Go-style in the ustar block', () => {
    const b = encodeHeader({
      name: `dir/${'é'.repeat(60)}`,
      type: 'file',
      mode: 0o600,
      uid: 2 ** 24,
      gid: 5,
      size: 9 * 1024 ** 3,
      mtime: 1_700_000_000.25,
      xattrs: new Map([['security.capability', cap]]),
    });
    // Go: toASCII("dir/PaxHeaders.0/ééé") with the trailing "/" trimmed
    expect(text(b, F.name)).toBe('dir/PaxHeaders.0'.padEnd(100, '\0'));
    expect(text(b, F.mode) + text(b, F.uid) + text(b, F.mtime)).toBe('0000000\x000000000\x0000000000000\0');
    const size = parseInt(text(b, F.size), 8);
    const data = b.subarray(BLOCK_SIZE, BLOCK_SIZE + size);
    const cnt = `${Buffer.byteLength(`x SCHILY.xattr.security.capability=`) + cap.length + 1 + 1}`;
    expect(data).toEqual(
      Buffer.concat([
        Buffer.from(`${cnt} SCHILY.xattr.security.capability=`),
        cap,
        Buffer.from(`\n23 mtime=1700000000.25\n`),
        Buffer.from(`${Buffer.byteLength(`xx path=dir/${'é'.repeat(60)}\n`) + 1} path=dir/${'é'.repeat(60)}\n`),
        Buffer.from(`19 size=9663676416\n16 uid=16777216\n`),
      ]),
    );
    const main = b.subarray(b.length - BLOCK_SIZE);
    expect(text(main, F.name)).toBe('dir/'.padEnd(100, '\0')); // non-ASCII dropped, as Go does
    expect(text(main, F.uid)).toBe('0000000\0');
    expect(text(main, F.size)).toBe('00000000000\0');
    expect(text(main, F.mtime)).toBe(`${(1_700_000_000).toString(8)}\0`);
  });

  it.each([
    ['negative uid', { uid: -1 }],
    ['fractional gid', { gid: 1.5 }],
    ['NaN mtime', { mtime: NaN }],
    ['NUL in name', { name: 'a\0b' }],
    ['trailing slash on a file', { name: 'f/' }],
    ['empty name', { name: '' }],
    ['xattr name with "="', { xattrs: new Map([['user.a=b', Buffer.alloc(1)]]) }],
    ['device number beyond octal', { type: 'char', devmajor: 2 ** 21 }],
    ['unknown type', { type: 'socket' }],
  ] as const)('refuses %s', async (_why, over) => {
    await expectCode(
      () => encodeHeader({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, ...(over as Partial<TarHeader>) }),
      ErrorCode.Unsupported,
    );
  });
});

describe('padding and END_OF_ARCHIVE', () => {
  it('pads to the block boundary', () => {
    expect([0, 1, 511, 512, 513, 1024].map((n) => padding(n).length)).toEqual([0, 511, 1, 0, 511, 0]);
    expect(padding(1).every((b) => b === 0)).toBe(true);
    expect(END_OF_ARCHIVE).toEqual(Buffer.alloc(1024));
  });
});

const GO_WRITER = String.raw`package main

import (
	"archive/tar"
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"
)

type entry struct {
	Name, Type, Uname, Gname, Linkname, Data string
	Mode, Sec, Nsec, Devmajor, Devminor      int64
	Uid, Gid                                 int
	Xattrs                                   map[string]string
}

var flags = map[string]byte{"file": tar.TypeReg, "directory": tar.TypeDir, "symlink": tar.TypeSymlink,
	"hardlink": tar.TypeLink, "char": tar.TypeChar, "block": tar.TypeBlock, "fifo": tar.TypeFifo}

func main() {
	var entries []entry
	if err := json.NewDecoder(os.Stdin).Decode(&entries); err != nil {
		panic(err)
	}
	out := bufio.NewWriter(os.Stdout)
	tw := tar.NewWriter(out)
	for _, e := range entries {
		data, _ := hex.DecodeString(e.Data)
		h := &tar.Header{Name: e.Name, Typeflag: flags[e.Type], Mode: e.Mode, Uid: e.Uid, Gid: e.Gid,
			Uname: e.Uname, Gname: e.Gname, ModTime: time.Unix(e.Sec, e.Nsec), Linkname: e.Linkname,
			Devmajor: e.Devmajor, Devminor: e.Devminor, Size: int64(len(data)), Format: tar.FormatPAX}
		if len(e.Xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				b, _ := hex.DecodeString(v)
				h.PAXRecords["SCHILY.xattr."+k] = string(b)
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if _, err := tw.Write(data); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	out.Flush()
}
`;

/** sha256 of pack(specs()); equal to Go 1.19 archive/tar (Format=PAX) output for the same headers. */
const GO_OUTPUT_SHA256 = 'e1244c315dd454e36876f3278bef77c2351e2196c4f4894db84370c9d947a50e';

describe('packEntries', () => {
  it('round-trips every spec through readTar, in any chunking', async () => {
    const archive = await toBuffer(pack(specs()));
    for (const feed of [(b: Buffer) => chunked(b, 1), (b: Buffer) => chunked(b, 511), oddChunks, (b: Buffer) => chunked(b, 1 << 20)]) {
      const got = await readAll(readTar(feed(archive)));
      expect(got.map((g) => g.header)).toEqual(specs().map((s) => expectedBack(s.header)));
      for (const [i, g] of got.entries()) expect(g.data).toEqual(specs()[i].data ?? Buffer.alloc(0));
    }
  });

  it('is byte-for-byte what Go archive/tar writes with Format=PAX', async () => {
    const ours = await toBuffer(pack(specs()));
    expect(sha256(ours)).toBe(GO_OUTPUT_SHA256);
  });

  it.runIf(liveGo)('matches a live Go run', async () => {
    const dir = path.join(tmp, 'go');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'main.go'), GO_WRITER);
    const json = specs().map(({ header: h, data }) => ({
      Name: h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name, // Go's FileInfoHeader adds it
      Type: h.type,
      Mode: h.mode,
      Uid: h.uid,
      Gid: h.gid,
      Uname: h.uname ?? '',
      Gname: h.gname ?? '',
      Linkname: h.linkname ?? '',
      Sec: Math.floor(h.mtime),
      Nsec: Math.round((h.mtime - Math.floor(h.mtime)) * 1e9),
      Devmajor: h.devmajor ?? 0,
      Devminor: h.devminor ?? 0,
      Xattrs: h.xattrs && Object.fromEntries([...h.xattrs].map(([k, v]) => [k, v.toString('hex')])),
      Data: data?.toString('hex') ?? '',
    }));
    const go = execFileSync('go', ['run', 'main.go'], {
      cwd: dir,
      input: JSON.stringify(json),
      maxBuffer: 1 << 26,
      env: { ...process.env, GOFLAGS: '' },
    });
    const ours = await toBuffer(pack(specs()));
    for (let off = 0; off < Math.max(go.length, ours.length); off += BLOCK_SIZE) {
      const a = ours.subarray(off, off + BLOCK_SIZE);
      const b = go.subarray(off, off + BLOCK_SIZE);
      if (!a.equals(b)) expect(JSON.stringify(a.toString('latin1')), `block at ${off}`).toBe(JSON.stringify(b.toString('latin1')));
    }
    expect(sha256(go)).toBe(GO_OUTPUT_SHA256);
  });

  it('accepts Uint8Array bodies and async bodies of any chunking', async () => {
    const data = Buffer.alloc(3000, 7);
    const entries: PackEntry[] = [
      { header: { ...base, name: 'a', type: 'file', size: 3000 }, body: new Uint8Array(data) },
      { header: { ...base, name: 'b', type: 'file', size: 3000 }, body: chunked(data, 7) },
      { header: { ...base, name: 'c', type: 'directory', size: 0 }, body: new Uint8Array(0) },
    ];
    const got = await readAll(readTar(packEntries(entries)));
    expect(got.map((g) => g.data.length)).toEqual([3000, 3000, 0]);
  });

  it.each([
    ['short body', { size: 10 }, Buffer.alloc(9), /9 bytes, header says 10/],
    ['long body', { size: 10 }, Buffer.alloc(11), /11\+? bytes, header says 10/],
    ['missing body', { size: 10 }, undefined, /0 bytes/],
    ['body on a directory', { type: 'directory' as const }, Buffer.alloc(1), /header says 0/],
  ])('fails on a %s', async (_why, over, body, message) => {
    const e: PackEntry = { header: { ...base, name: 'victim', type: 'file', size: 0, ...over }, body };
    await expectCode(toBuffer(packEntries([e])), ErrorCode.InvalidArchive, message);
    const streamed: PackEntry = { ...e, body: body && chunked(body, 4) };
    await expectCode(toBuffer(packEntries([streamed])), ErrorCode.InvalidArchive, message);
  });

  it('pulls entries only as it is read', async () => {
    let pulled = 0;
    async function* lazy(): AsyncGenerator<PackEntry> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield { header: { ...base, name: `f${i}`, type: 'file', size: 65536 }, body: Buffer.alloc(65536) };
      }
    }
    const r = packEntries(lazy());
    await new Promise((resolve) => r.once('readable', resolve));
    // Each entry is two chunks (header, body): at most a buffer's worth is pulled ahead.
    expect(pulled).toBeLessThanOrEqual(r.readableHighWaterMark);
    r.destroy();
  });

  it.each([
    ['sync entries, in-memory bodies', false, false],
    ['async entries, streamed bodies', true, true],
  ])(
    'pipes many entries to a slow writable without stalling (%s)',
    async (_why, asyncEntries, streamed) => {
      const data = Buffer.alloc(700, 1);
      const list: PackEntry[] = Array.from({ length: 3000 }, (_, i) => ({
        header: { ...base, name: `f${i}`, type: 'file', size: data.length },
        body: streamed ? chunked(data, 300) : data,
      }));
      async function* lazy() {
        yield* list;
      }
      let n = 0;
      let writes = 0;
      const sink = new Writable({
        highWaterMark: 1024,
        write(c: Buffer, _e, cb) {
          n += c.length;
          // Every few writes complete later, so the readable sees backpressure both ways.
          if (++writes % 7 === 0) setImmediate(cb);
          else cb();
        },
      });
      await pipeline(packEntries(asyncEntries ? lazy() : list), sink);
      expect(n).toBe(3000 * (BLOCK_SIZE + 1024) + 1024);
    },
    30_000,
  );

  it('hands chunks on without copying them', async () => {
    const data = Buffer.alloc(1 << 20, 3);
    const seen: boolean[] = [];
    for await (const c of packEntries([{ header: { ...base, name: 'big', type: 'file', size: data.length }, body: data }]))
      seen.push(c === data);
    expect(seen).toEqual([false, true, false]); // header, the body itself, end blocks
  });

  it('releases the body and entry iterators when destroyed', async () => {
    let bodyClosed = false;
    let entriesClosed = false;
    async function* body() {
      try {
        for (;;) yield Buffer.alloc(65536);
      } finally {
        bodyClosed = true;
      }
    }
    async function* entries(): AsyncGenerator<PackEntry> {
      try {
        yield { header: { ...base, name: 'endless', type: 'file', size: 2 ** 40 }, body: body() };
      } finally {
        entriesClosed = true;
      }
    }
    const r = packEntries(entries());
    for await (const c of r) {
      void c;
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect([bodyClosed, entriesClosed]).toEqual([true, true]);
  });
});

// ---- other tools reading our output ------------------------------------------------

describe.runIf(gnuTar)('GNU tar reads our archives', () => {
  const longName = `${'a'.repeat(120)}/${'b'.repeat(120)}/${'c'.repeat(60)}`;
  const longTarget = `../${'t'.repeat(250)}/${'u'.repeat(100)}`;
  const bin = Buffer.from([0xff, 0x00, 0x0a, 0x3d, 0x80]);
  const mtime = 1_600_000_000;
  const file = (name: string, data: Buffer, extra: Partial<TarHeader> = {}): PackEntry => ({
    header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime, ...extra },
    body: data,
  });
  const dir = (name: string, extra: Partial<TarHeader> = {}): PackEntry => ({
    header: { name, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime, ...extra },
  });
  function entries(): PackEntry[] {
    const list: PackEntry[] = [
      dir('d'),
      file('d/file', Buffer.from('content\n'), {
        mode: 0o4755,
        xattrs: new Map([['user.bin', bin], ...(isRoot ? ([['security.capability', cap]] as const) : [])]),
      }),
      { header: { name: 'd/hard', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, size: 0, mtime, linkname: 'd/file' } },
      { header: { name: 'd/sym', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime, linkname: 'file' } },
      { header: { name: 'longsym', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime, linkname: longTarget } },
      dir('a'.repeat(120)),
      dir(`${'a'.repeat(120)}/${'b'.repeat(120)}`),
      file(longName, Buffer.from('deep')),
      file('ünï ✓/ファイル', Buffer.from('unicode')),
      dir('ünï ✓'),
      { header: { name: 'fifo', type: 'fifo', mode: 0o600, uid: 0, gid: 0, size: 0, mtime } },
      file('frac', Buffer.alloc(0), { mtime: mtime + 0.5 }),
      dir('sticky', { mode: 0o1777 }),
    ];
    if (isRoot) {
      list.push(
        { header: { name: 'null', type: 'char', mode: 0o666, uid: 0, gid: 0, size: 0, mtime, devmajor: 1, devminor: 3 } },
        { header: { name: 'loop9', type: 'block', mode: 0o660, uid: 0, gid: 6, size: 0, mtime, devmajor: 7, devminor: 9 } },
        file('bigids', Buffer.from('ids'), { uid: 2 ** 24, gid: 2 ** 24 + 1, uname: 'no-such-user-xyz', gname: 'no-such-group-xyz' }),
      );
    }
    return list;
  }

  let archive: string;
  beforeAll(async () => {
    archive = path.join(tmp, 'ours.tar');
    await pipeline(packEntries(entries()), fs.createWriteStream(archive));
  });

  it('tar -tvf lists every entry without warnings', () => {
    const { stdout, stderr } = run('tar', ['-tvf', archive]);
    expect(stderr).toBe('');
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(entries().length);
    expect(stdout).toContain(longName);
    expect(stdout).toContain(`longsym -> ${longTarget}`);
    expect(stdout).toContain('d/hard link to d/file');
    expect(stdout).toMatch(/^-rwsr-xr-x 0\/0\s+8 2020-09-13 \d\d:\d\d d\/file$/m);
    if (isRoot) {
      expect(stdout).toMatch(/^crw-rw-rw- 0\/0\s+1,3 .* null$/m);
      expect(stdout).toMatch(/^-rw-r--r-- no-such-user-xyz\/no-such-group-xyz\s+3 .* bigids$/m);
    }
  });

  it('tar --xattrs -xf restores content, modes, owners, links, devices and xattrs', () => {
    const out = path.join(tmp, 'extract');
    fs.mkdirSync(out);
    const { stderr } = run('tar', ['--xattrs', '--xattrs-include=*', '-xpf', archive, '-C', out]);
    expect(stderr).toBe('');
    const p = (rel: string) => path.join(out, rel);
    expect(fs.readFileSync(p('d/file'), 'utf8')).toBe('content\n');
    expect(fs.statSync(p('d/file')).mode & 0o7777).toBe(0o4755);
    expect(fs.statSync(p('d/file')).mtimeMs).toBe(mtime * 1000);
    expect(fs.statSync(p('frac')).mtimeMs).toBe(mtime * 1000 + 500);
    expect(fs.statSync(p('d/hard')).ino).toBe(fs.statSync(p('d/file')).ino);
    expect(fs.readlinkSync(p('d/sym'))).toBe('file');
    expect(fs.readlinkSync(p('longsym'))).toBe(longTarget);
    expect(fs.readFileSync(p(longName), 'utf8')).toBe('deep');
    expect(fs.readFileSync(p('ünï ✓/ファイル'), 'utf8')).toBe('unicode');
    expect(fs.statSync(p('fifo')).isFIFO()).toBe(true);
    expect(fs.statSync(p('sticky')).mode & 0o7777).toBe(0o1777);
    expect(getAttributeSync(p('d/file'), 'user.bin')).toEqual(bin);
    if (isRoot) {
      expect(getAttributeSync(p('d/file'), 'security.capability')).toEqual(cap);
      const dev = fs.statSync(p('null'));
      expect(dev.isCharacterDevice()).toBe(true);
      expect([dev.rdev >> 8, dev.rdev & 0xff]).toEqual([1, 3]);
      const blk = fs.statSync(p('loop9'));
      expect(blk.isBlockDevice() && [blk.rdev >> 8, blk.rdev & 0xff, blk.gid]).toEqual([7, 9, 6]);
      // Unknown uname/gname: GNU tar falls back to the numeric ids, which is what we rely on.
      expect([fs.statSync(p('bigids')).uid, fs.statSync(p('bigids')).gid]).toEqual([2 ** 24, 2 ** 24 + 1]);
    }
  });

  it('a tar written by GNU tar and re-packed by us extracts identically (xattrs on disk)', async () => {
    const src = path.join(tmp, 'xsrc');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'x');
    setAttributeSync(path.join(src, 'f'), 'user.k', bin);
    const first = path.join(tmp, 'gnu-first.tar');
    run('tar', ['--format=posix', '--xattrs', '--xattrs-include=*', '-cf', first, '-C', src, 'f']);
    const again = path.join(tmp, 'repacked.tar');
    const entriesBack = readTar(fs.createReadStream(first));
    await pipeline(packEntries(entriesBack), fs.createWriteStream(again));
    const out = path.join(tmp, 'x2');
    fs.mkdirSync(out);
    expect(run('tar', ['--xattrs', '--xattrs-include=*', '-xf', again, '-C', out]).stderr).toBe('');
    expect(getAttributeSync(path.join(out, 'f'), 'user.k')).toEqual(bin);
  });
});

const PY_READER = String.raw`
import sys, json, tarfile
out = []
with tarfile.open(sys.argv[1]) as tf:
    for m in tf:
        x = {k: v.encode('utf-8', 'surrogateescape').hex() for k, v in m.pax_headers.items() if k.startswith('SCHILY.xattr.')}
        out.append({'name': m.name, 'type': m.type.decode(), 'mode': m.mode, 'uid': m.uid, 'gid': m.gid, 'size': m.size,
                    'mtime': m.mtime, 'linkname': m.linkname, 'devmajor': m.devmajor, 'devminor': m.devminor, 'xattrs': x,
                    'data': tf.extractfile(m).read().hex() if m.isreg() else ''})
print(json.dumps(out))
`;

describe.runIf(python)("Python's tarfile reads our archives", () => {
  it('with the same headers', async () => {
    const file = path.join(tmp, 'for-python.tar');
    await pipeline(pack(specs()), fs.createWriteStream(file));
    const got = JSON.parse(run('python3', ['-c', PY_READER, file]).stdout) as Record<string, unknown>[];
    const flag = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' };
    expect(got).toEqual(
      specs().map(({ header: h, data }) => ({
        // tarfile strips the trailing "/" of directories
        name: h.name.replace(/\/$/, ''),
        type: flag[h.type],
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        size: data?.length ?? 0,
        mtime: h.mtime,
        linkname: h.linkname ?? '',
        devmajor: h.devmajor ?? 0,
        devminor: h.devminor ?? 0,
        xattrs: Object.fromEntries([...(h.xattrs ?? [])].map(([k, v]) => [`SCHILY.xattr.${k}`, v.toString('hex')])),
        data: data?.toString('hex') ?? '',
      })),
    );
  });
});

describe('streaming a 2 GiB file', () => {
  it('keeps memory flat through packEntries and readTar', async () => {
    const size = 2 * 1024 ** 3;
    const file = path.join(tmp, 'sparse-2g');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, size); // a hole: no disk used
    fs.writeSync(fd, Buffer.from('TAIL'), 0, 4, size - 4);
    fs.closeSync(fd);

    if (global.gc) global.gc();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const entries: PackEntry[] = [
      { header: { ...base, name: 'big', type: 'file', size }, body: fs.createReadStream(file, { highWaterMark: 1 << 20 }) },
      { header: { ...base, name: 'after', type: 'file', size: 2 }, body: Buffer.from('ok') },
    ];
    let total = 0;
    let tail: Buffer = Buffer.alloc(0);
    let chunks = 0;
    const names: string[] = [];
    for await (const e of readTar(packEntries(entries))) {
      names.push(e.header.name);
      if (e.header.name !== 'big') continue;
      expect(e.header.size).toBe(size);
      for await (const c of e.body) {
        total += c.length;
        tail = c.length >= 4 ? c.subarray(-4) : Buffer.concat([tail, c]).subarray(-4);
        if (++chunks % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(names).toEqual(['big', 'after']);
    expect(total).toBe(size);
    expect(tail.toString()).toBe('TAIL');
    expect(peak - rss0).toBeLessThan(100 * 1024 * 1024);
  }, 300_000);
});
