import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { BLOCK_SIZE, F } from './constants.js';
import { forEachTarEntry, readTar } from './reader.js';
import { block, chunked, END, fixChecksum, isRoot, oddChunks, pad, paxEntry, readAll, run, sha256 } from '../test-support/tar.js';
import { missingPrograms, requireBackingSystem } from '../testing/backing-system.js';
import type { EntryType, TarHeader } from './types.js';

// The writers of the archives we read; a missing one is core's loud skip (CI fails).
const python = requireBackingSystem("tar/reader.test.ts's Python tarfile cases", missingPrograms(['python3']));
const gnuTar = requireBackingSystem("tar/reader.test.ts's GNU tar cases", missingPrograms(['tar']));

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tar-reader-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const read = (data: Buffer, size = 1 << 20, opts?: { maxPaxBytes?: number }) => readAll(readTar(chunked(data, size), opts));

async function expectCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected an error').toBeDefined();
  if (!isGraphDriverError(err, code)) throw err;
  if (message) expect((err as Error).message).toMatch(message);
}

describe('readTar: hand-made ustar', () => {
  const data = randomBytes(1500);
  const archive = Buffer.concat([
    block({ name: 'dir/', typeflag: 0x35, mode: 0o755, mtime: 1_600_000_000 }),
    block({ name: 'dir/file', size: data.length, mode: 0o4755, uid: 1000, gid: 100, mtime: 1_600_000_001 }),
    pad(data),
    block({ name: 'dir/empty' }),
    END,
  ]);

  it('reads headers and bodies', async () => {
    const got = await read(archive);
    expect(got.map((e) => e.header)).toEqual([
      { name: 'dir/', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_600_000_000 },
      { name: 'dir/file', type: 'file', mode: 0o4755, uid: 1000, gid: 100, size: 1500, mtime: 1_600_000_001 },
      { name: 'dir/empty', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 },
    ]);
    expect(got[1].data.equals(data)).toBe(true);
    expect(got[2].data.length).toBe(0);
  });

  it.each([1, 7, 511, 512, 513, 4096, 1 << 20])('gives the same result for %i-byte chunks', async (size) => {
    const got = await read(archive, size);
    expect(got.map((e) => e.header.name)).toEqual(['dir/', 'dir/file', 'dir/empty']);
    expect(got[1].data.equals(data)).toBe(true);
  });

  it('handles odd mixed chunk sizes', async () => {
    const got = await readAll(readTar(oddChunks(archive)));
    expect(got[1].data.equals(data)).toBe(true);
    expect(got).toHaveLength(3);
  });

  it.each([1, 511, 513, 4096, 1 << 20])(
    'forEachTarEntry: same entries as readTar, bodies taken whole when buffered (%i-byte chunks)',
    async (size) => {
      const got: { header: TarHeader; data: Buffer; whole: boolean }[] = [];
      await forEachTarEntry(chunked(archive, size), (e) => {
        const body = e.body as AsyncIterable<Buffer> & { takeBuffered(): Buffer | undefined };
        const whole = body.takeBuffered();
        if (whole !== undefined) {
          got.push({ header: e.header, data: Buffer.from(whole), whole: true });
          return undefined;
        }
        return (async () => {
          const parts: Buffer[] = [];
          for await (const c of body) parts.push(Buffer.from(c));
          got.push({ header: e.header, data: Buffer.concat(parts), whole: false });
        })();
      });
      const expected = await read(archive);
      expect(got.map((e) => e.header)).toEqual(expected.map((e) => e.header));
      expect(got.every((e, i) => e.data.equals(expected[i].data))).toBe(true);
      // With the whole archive in one chunk nothing has to wait.
      if (size === 1 << 20) expect(got.every((e) => e.whole)).toBe(true);
    },
  );

  it('skips bodies the consumer leaves, whole or in part', async () => {
    const names: string[] = [];
    for await (const e of readTar(chunked(archive, 100))) names.push(e.header.name);
    expect(names).toEqual(['dir/', 'dir/file', 'dir/empty']);

    const seen: string[] = [];
    for await (const e of readTar(chunked(archive, 100))) {
      seen.push(e.header.name);
      for await (const c of e.body) {
        expect(c.length).toBeGreaterThan(0);
        break; // leave the rest of the body
      }
    }
    expect(seen).toEqual(['dir/', 'dir/file', 'dir/empty']);
  });

  it('refuses to read a body after the reader moved on', async () => {
    const it = readTar(chunked(archive, 64));
    await it.next();
    const file = (await it.next()).value!;
    await it.next();
    await expect(file.body[Symbol.asyncIterator]().next()).rejects.toThrow(/after the reader moved on/);
    await it.return(undefined);
  });

  it('hands out subarrays of the source chunks (no copy)', async () => {
    const whole = Buffer.from(archive);
    async function* one() {
      yield whole;
    }
    for await (const e of readTar(one())) {
      for await (const c of e.body) expect(c.buffer).toBe(whole.buffer);
    }
  });

  it('pulls from the source only as the consumer pulls', async () => {
    const big = Buffer.concat([block({ name: 'big', size: 64 * BLOCK_SIZE }), Buffer.alloc(64 * BLOCK_SIZE), END]);
    let pulls = 0;
    async function* counted() {
      for await (const c of chunked(big, BLOCK_SIZE)) {
        pulls++;
        yield c;
      }
    }
    const it = readTar(counted());
    const first = (await it.next()).value!;
    expect(pulls).toBe(1);
    const body = first.body[Symbol.asyncIterator]();
    await body.next();
    await body.next();
    expect(pulls).toBe(3);
    await it.return(undefined);
  });

  it('closes the source when the consumer stops early', async () => {
    let closed = false;
    async function* src() {
      try {
        yield* chunked(archive, 512);
      } finally {
        closed = true;
      }
    }
    for await (const e of readTar(src())) {
      void e;
      break;
    }
    expect(closed).toBe(true);
  });

  it('keeps binary xattr values and unicode names from PAX records as bytes', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const weird = Buffer.from([0x0a, 0x3d, 0x00, 0xff, 0x20, 0x0a]);
    const recs = Buffer.concat([
      rec('path', Buffer.from('ünï/çødé ✓.txt')),
      rec('SCHILY.xattr.security.capability', cap),
      rec('SCHILY.xattr.user.weird', weird),
      rec('SCHILY.xattr.user.empty', Buffer.alloc(0)),
      rec('uid', Buffer.from('16777216')),
      rec('gid', Buffer.from('4294967294')),
      rec('mtime', Buffer.from('1700000000.123456789')),
      rec('atime', Buffer.from('1700000000.5')),
      rec('comment', Buffer.from('ignored')),
    ]);
    const got = await read(Buffer.concat([paxEntry(recs), block({ name: 'short' }), END]), 3);
    expect(got[0].header).toEqual({
      name: 'ünï/çødé ✓.txt',
      type: 'file',
      mode: 0o644,
      uid: 16777216,
      gid: 4294967294,
      size: 0,
      mtime: Number('1700000000.123456789'), // the nearest double, as the reader parses it
      xattrs: new Map([
        ['security.capability', cap],
        ['user.weird', weird],
        ['user.empty', Buffer.alloc(0)],
      ]),
    });
  });

  it('ignores a well-formed PAX global header', async () => {
    const got = await read(
      Buffer.concat([paxEntry('52 comment=8b2e0c7d4c0b4d1f0f1a3e5e8c3a9f6e5d4c3b2a\n', 0x67), block({ name: 'x' }), END]),
    );
    expect(got.map((e) => e.header.name)).toEqual(['x']);
  });

  it('reads GNU long name / long link meta entries', async () => {
    const long = 'l/'.repeat(150) + 'name';
    const target = 't'.repeat(300);
    const ln = (flag: number, s: string) => {
      const body = Buffer.from(s + '\0');
      return Buffer.concat([block({ name: '././@LongLink', typeflag: flag, size: body.length }), pad(body)]);
    };
    const got = await read(
      Buffer.concat([
        ln(0x4c, long),
        ln(0x4b, target),
        block({ name: long.slice(0, 100), linkname: target.slice(0, 100), typeflag: 0x32 }),
        END,
      ]),
      5,
    );
    expect(got[0].header).toMatchObject({ name: long, linkname: target, type: 'symlink' });
  });

  it('reads GNU base-256 numbers, V7 headers and legacy typeflags', async () => {
    const b = block({ name: 'old/', typeflag: 0, size: 0 });
    b.fill(0, F.magic[0], F.magic[0] + 8); // V7: no magic
    const gnuNums = block({ name: 'big', typeflag: 0x37 });
    // uid 2^24 and a negative mtime (-1) in base-256, as GNU tar writes them
    gnuNums.fill(0, F.uid[0], F.uid[0] + 8);
    gnuNums[F.uid[0]] = 0x80;
    gnuNums.writeUIntBE(2 ** 24, F.uid[0] + 2, 6);
    gnuNums.fill(0xff, F.mtime[0], F.mtime[0] + 12);
    const got = await read(Buffer.concat([fixChecksum(b), fixChecksum(gnuNums), END]));
    expect(got[0].header).toMatchObject({ name: 'old/', type: 'directory' });
    expect(got[1].header).toMatchObject({ name: 'big', type: 'file', uid: 2 ** 24, mtime: -1 });
  });

  it('maps every typeflag', async () => {
    const flags: [number, EntryType][] = [
      [0x30, 'file'],
      [0x00, 'file'],
      [0x37, 'file'],
      [0x31, 'hardlink'],
      [0x32, 'symlink'],
      [0x33, 'char'],
      [0x34, 'block'],
      [0x35, 'directory'],
      [0x36, 'fifo'],
    ];
    const got = await read(
      Buffer.concat([...flags.map(([t], i) => block({ name: `e${i}`, typeflag: t, linkname: 'tgt', devmajor: 1, devminor: 2 })), END]),
    );
    expect(got.map((e) => e.header.type)).toEqual(flags.map(([, t]) => t));
    expect(got[3].header.linkname).toBe('tgt');
    expect(got[0].header.linkname).toBeUndefined();
    expect(got[5].header).toMatchObject({ devmajor: 1, devminor: 2 });
    expect(got[0].header.devmajor).toBeUndefined();
  });

  it('treats data-less types as header-only whatever their size field says', async () => {
    // Like Go: a directory's size field is not followed by data.
    const got = await read(Buffer.concat([block({ name: 'd/', typeflag: 0x35, size: 5000 }), block({ name: 'next' }), END]));
    expect(got.map((e) => [e.header.name, e.header.size])).toEqual([
      ['d/', 0],
      ['next', 0],
    ]);
  });
});

function rec(key: string, value: Buffer): Buffer {
  const body = Buffer.byteLength(key) + value.length + 3;
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

describe('readTar: end of archive', () => {
  const one = Buffer.concat([block({ name: 'a', size: 3 }), pad(Buffer.from('abc'))]);

  it('stops at two zero blocks and ignores trailing garbage', async () => {
    const got = await read(Buffer.concat([one, END, randomBytes(3000)]));
    expect(got.map((e) => e.header.name)).toEqual(['a']);
  });

  it('accepts a single zero block followed by EOF', async () => {
    expect(await read(Buffer.concat([one, Buffer.alloc(BLOCK_SIZE)]))).toHaveLength(1);
  });

  it('accepts EOF on a block boundary without end blocks (as GNU tar and Go do)', async () => {
    expect(await read(one)).toHaveLength(1);
    expect(await read(Buffer.alloc(0))).toHaveLength(0);
  });

  it('accepts EOF right after the last body, without its padding (as Go does)', async () => {
    const cut = Buffer.concat([block({ name: 'a', size: 3 }), Buffer.from('abc')]);
    for (const size of [1, 512, 1 << 20]) {
      const got = await read(cut, size);
      expect(got.map((e) => [e.header.name, e.data.toString()])).toEqual([['a', 'abc']]);
    }
  });

  it('rejects a single zero block followed by a header', async () => {
    await expectCode(read(Buffer.concat([Buffer.alloc(BLOCK_SIZE), one, END])), ErrorCode.InvalidArchive, /zero block/);
  });
});

describe('readTar: corrupt input', () => {
  const file = (size: number, name = 'victim') => block({ name, size });

  it('bad checksum', async () => {
    const b = block({ name: 'victim' });
    b[F.mode[0] + 3] ^= 1;
    await expectCode(read(Buffer.concat([b, END])), ErrorCode.InvalidArchive, /checksum.*victim|victim.*checksum/);
  });

  it('non-numeric checksum', async () => {
    const b = block({ name: 'victim' });
    b.write('zz', F.chksum[0], 'latin1');
    await expectCode(read(Buffer.concat([b, END])), ErrorCode.InvalidArchive, /checksum/);
  });

  it('truncated header', async () => {
    await expectCode(read(block().subarray(0, 300)), ErrorCode.InvalidArchive, /truncated header.*|offset 0/);
    await expectCode(read(Buffer.concat([block({ name: 'a' }), block().subarray(0, 511)])), ErrorCode.InvalidArchive, /offset 512/);
  });

  it('truncated body, read or skipped', async () => {
    const cut = Buffer.concat([file(2000), Buffer.alloc(1000)]);
    await expectCode(read(cut, 7), ErrorCode.InvalidArchive, /victim.*ends inside/);
    const skip = (async () => {
      for await (const e of readTar(chunked(cut, 300))) void e;
    })();
    await expectCode(skip, ErrorCode.InvalidArchive, /victim/);
  });

  it('truncated padding', async () => {
    await expectCode(read(Buffer.concat([file(10), Buffer.alloc(100)])), ErrorCode.InvalidArchive, /victim/);
  });

  it.each([
    ['size', F.size, 'abc'],
    ['uid', F.uid, '12x4'],
    ['mode', F.mode, '-7'],
    ['mtime', F.mtime, '9'.repeat(11)],
  ] as const)('non-numeric %s field', async (label, [off, len], text) => {
    const b = block({ name: 'victim' });
    b.fill(0, off, off + len);
    b.write(text, off, 'latin1');
    await expectCode(read(Buffer.concat([fixChecksum(b), END])), ErrorCode.InvalidArchive, new RegExp(`non-numeric ${label}.*|victim`));
  });

  it.each([
    ['size', F.size],
    ['uid', F.uid],
    ['gid', F.gid],
  ] as const)('negative base-256 %s field', async (label, [off, len]) => {
    const b = block({ name: 'victim' });
    b.fill(0xff, off, off + len);
    await expectCode(read(Buffer.concat([fixChecksum(b), END])), ErrorCode.InvalidArchive, new RegExp(`negative ${label}`));
  });

  it('base-256 value beyond 2^53', async () => {
    const b = block({ name: 'victim' });
    b.fill(0x7f, F.size[0], F.size[0] + 12);
    b[F.size[0]] = 0x80 | 0x3f;
    await expectCode(read(Buffer.concat([fixChecksum(b), END])), ErrorCode.InvalidArchive, /size/);
  });

  const paxCase = (records: Buffer | string) => Buffer.concat([paxEntry(records), file(0), END]);
  it.each([
    ['length longer than the header', '99 path=x\n'],
    ['length shorter than the record', '9 path=abcdef\n'],
    ['length off by one (counts characters, not bytes)', `14 path=ü.txt\n`],
    ['non-numeric length', 'x9 path=abc\n'],
    ['no space after the length', '12path=abcd\n'],
    ['no key', '8 =abcd\n'],
    ['no equals sign', '10 pathabc\n'],
    ['garbage after the records', '12 path=abc\nxyz'],
    ['non-numeric uid', '12 uid=12a4\n'],
    ['negative size', '12 size=-10\n'],
    ['bad mtime', '15 mtime=1.2.3\n'],
    ['NUL in path', Buffer.from('12 path=a\0c\n')],
  ])('PAX record: %s', async (_why, records) => {
    await expectCode(read(paxCase(records)), ErrorCode.InvalidArchive, /PAX|victim/);
  });

  it('accepts NUL padding after the last PAX record', async () => {
    const got = await read(paxCase(Buffer.from('12 path=abc\n\0\0\0')));
    expect(got[0].header.name).toBe('abc');
  });

  it('malformed PAX global header', async () => {
    await expectCode(read(Buffer.concat([paxEntry('99 comment=x\n', 0x67), file(0), END])), ErrorCode.InvalidArchive, /PAX/);
  });

  it('PAX bomb: refuses before reading the body', async () => {
    let pulled = 0;
    async function* endless() {
      yield block({ name: 'PaxHeaders.0/bomb', typeflag: 0x78, size: 8 * 1024 ** 3 - 1 });
      for (;;) {
        pulled++;
        yield Buffer.alloc(65536, 0x31);
      }
    }
    await expectCode(readAll(readTar(endless())), ErrorCode.InvalidArchive, /exceeds the 1048576-byte limit/);
    expect(pulled).toBe(0);
    await expectCode(read(paxCase('12 path=abc\n'), 512, { maxPaxBytes: 8 }), ErrorCode.InvalidArchive, /exceeds/);
  });

  it('GNU long name over the limit', async () => {
    const body = Buffer.alloc(5000, 0x61);
    const arch = Buffer.concat([block({ name: '././@LongLink', typeflag: 0x4c, size: body.length }), pad(body), file(0), END]);
    await expectCode(read(arch, 512, { maxPaxBytes: 4096 }), ErrorCode.InvalidArchive, /GNU long name/);
  });

  it('extended header with no entry after it', async () => {
    await expectCode(read(Buffer.concat([paxEntry('12 path=abc\n'), END])), ErrorCode.InvalidArchive, /extended header/);
    await expectCode(read(paxEntry('12 path=abc\n')), ErrorCode.InvalidArchive, /extended header/);
  });

  it('truncated PAX body', async () => {
    await expectCode(read(paxEntry('12 path=abc\n').subarray(0, 520)), ErrorCode.InvalidArchive, /ends inside/);
  });
});

describe('readTar: unsupported entries', () => {
  it.each([
    ['GNU sparse typeflag', block({ name: 'sparse', typeflag: 0x53 }), /sparse.*typeflag S/],
    ['unknown typeflag', block({ name: 'vendor', typeflag: 0x41 }), /unknown typeflag 'A'/],
    ['GNU dumpdir', block({ name: 'dd', typeflag: 0x44 }), /'D'/],
    ['binary typeflag', block({ name: 'bin', typeflag: 0x01 }), /0x1/],
    ['PAX GNU.sparse records', Buffer.concat([paxEntry('22 GNU.sparse.major=1\n'), block({ name: 'sp' })]), /GNU.sparse.major/],
  ])('%s', async (_why, entry, message) => {
    await expectCode(read(Buffer.concat([entry, END])), ErrorCode.Unsupported, message);
  });
});

// ---- archives made by other tools -------------------------------------------------

const PY_WRITER = String.raw`
import sys, json, tarfile, io, base64
fmt = {'ustar': tarfile.USTAR_FORMAT, 'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT}[sys.argv[1]]
types = {'file': tarfile.REGTYPE, 'directory': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'char': tarfile.CHRTYPE, 'block': tarfile.BLKTYPE, 'fifo': tarfile.FIFOTYPE}
with tarfile.open(sys.argv[2], 'w', format=fmt, encoding='utf-8') as tf:
    for e in json.load(sys.stdin):
        ti = tarfile.TarInfo(e['name'])
        ti.type = types[e['type']]
        ti.mode, ti.uid, ti.gid, ti.mtime = e['mode'], e['uid'], e['gid'], e['mtime']
        ti.uname, ti.gname = e.get('uname', ''), e.get('gname', '')
        ti.linkname = e.get('linkname', '')
        ti.devmajor, ti.devminor = e.get('devmajor', 0), e.get('devminor', 0)
        data = base64.b64decode(e.get('data', ''))
        ti.size = len(data)
        if 'xattrs' in e:
            ti.pax_headers = {'SCHILY.xattr.' + k: bytes.fromhex(v).decode('utf-8', 'surrogateescape') for k, v in e['xattrs'].items()}
        tf.addfile(ti, io.BytesIO(data) if e['type'] == 'file' else None)
`;

interface PyEntry {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  uname?: string;
  gname?: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  data?: Buffer;
  xattrs?: Map<string, Buffer>;
}

function pyEntries(format: 'ustar' | 'gnu' | 'pax'): PyEntry[] {
  const base = { mode: 0o644, uid: 1000, gid: 1000, mtime: 1_700_000_000 };
  const list: PyEntry[] = [
    { ...base, name: 'dir', type: 'directory', mode: 0o1777, uname: 'root', gname: 'wheel' },
    { ...base, name: 'dir/file', type: 'file', mode: 0o4755, data: randomBytes(10_000) },
    { ...base, name: 'dir/empty', type: 'file' },
    { ...base, name: 'dir/link', type: 'symlink', linkname: '../somewhere/else' },
    { ...base, name: 'dir/hard', type: 'hardlink', linkname: 'dir/file' },
    { ...base, name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
    { ...base, name: 'dev/sda', type: 'block', mode: 0o660, devmajor: 8, devminor: 0 },
    { ...base, name: 'fifo', type: 'fifo' },
    { ...base, name: `${'p'.repeat(120)}/${'n'.repeat(90)}`, type: 'file', data: Buffer.from('split') },
    { ...base, name: 'ünïcødé/ファイル.txt', type: 'file', data: Buffer.from('u') },
  ];
  if (format !== 'ustar') {
    list.push(
      { ...base, name: 'x'.repeat(300), type: 'file', data: Buffer.from('long') },
      { ...base, name: 'longlink', type: 'symlink', linkname: 'target/'.repeat(40) },
      { ...base, name: 'bigids', type: 'file', uid: 2 ** 24, gid: 2 ** 24 + 1 },
    );
  }
  if (format === 'gnu') list.push({ ...base, name: 'prehistoric', type: 'file', mtime: -86_400 });
  if (format === 'pax') {
    list.push(
      {
        ...base,
        name: 'caps',
        type: 'file',
        xattrs: new Map([
          ['security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')],
          ['user.bin', Buffer.from([0xff, 0xfe, 0x0a, 0x3d, 0x00, 0x80])],
        ]),
      },
      { ...base, name: 'frac', type: 'file', mtime: 1_700_000_000.5 },
    );
  }
  return list;
}

function expectedHeader(e: PyEntry): TarHeader {
  const h: TarHeader = {
    name: e.type === 'directory' ? `${e.name}/` : e.name,
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.data?.length ?? 0,
    mtime: e.mtime,
  };
  if (e.uname) h.uname = e.uname;
  if (e.gname) h.gname = e.gname;
  if (e.linkname !== undefined) h.linkname = e.linkname;
  if (e.type === 'char' || e.type === 'block') Object.assign(h, { devmajor: e.devmajor, devminor: e.devminor });
  if (e.xattrs) h.xattrs = e.xattrs;
  return h;
}

describe.runIf(python)("readTar: Python's tarfile", () => {
  it.each(['ustar', 'gnu', 'pax'] as const)('%s format parses exactly', async (format) => {
    const entries = pyEntries(format);
    const file = path.join(tmp, `py-${format}.tar`);
    const json = entries.map((e) => ({
      ...e,
      data: e.data?.toString('base64'),
      xattrs: e.xattrs && Object.fromEntries([...e.xattrs].map(([k, v]) => [k, v.toString('hex')])),
    }));
    run('python3', ['-c', PY_WRITER, format, file], { input: JSON.stringify(json) });
    const archive = fs.readFileSync(file);
    for (const size of [1, 511, 65536]) {
      const got = await read(archive, size);
      expect(got.map((g) => g.header)).toEqual(entries.map(expectedHeader));
      for (const [i, g] of got.entries()) expect(g.data.equals(entries[i].data ?? Buffer.alloc(0))).toBe(true);
    }
  });
});

// A tree with every kind of entry, archived by GNU tar in each format.
describe.runIf(gnuTar)('readTar: GNU tar archives', () => {
  let tree: string;
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
  const longDir = `${'a'.repeat(120)}/${'b'.repeat(120)}`;
  const longName = `${longDir}/${'c'.repeat(60)}`;
  const longTarget = `../${'t'.repeat(250)}/${'u'.repeat(100)}`;

  beforeAll(() => {
    tree = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(tree, 'd'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'd/file'), randomBytes(5000));
    fs.writeFileSync(path.join(tree, 'd/empty'), '');
    fs.chmodSync(path.join(tree, 'd/file'), 0o4755);
    fs.linkSync(path.join(tree, 'd/file'), path.join(tree, 'd/hard'));
    fs.symlinkSync('file', path.join(tree, 'd/sym'));
    fs.mkdirSync(path.join(tree, 'sticky'));
    fs.chmodSync(path.join(tree, 'sticky'), 0o1777);
    fs.writeFileSync(path.join(tree, 'ünï ✓'), 'unicode');
    execFileSync('mkfifo', [path.join(tree, 'fifo')]);
    if (isRoot) {
      execFileSync('mknod', [path.join(tree, 'null'), 'c', '1', '3']);
      fs.chownSync(path.join(tree, 'd/empty'), 2 ** 24, 2 ** 24 + 5);
    }
  });

  function expectedFor(rel: string, opts: { fracMtime: boolean }): Partial<TarHeader> {
    const st = fs.lstatSync(path.join(tree, rel), { bigint: true });
    const sec = st.mtimeNs / 1_000_000_000n;
    const ns = st.mtimeNs % 1_000_000_000n;
    const type: EntryType = st.isDirectory()
      ? 'directory'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isCharacterDevice()
          ? 'char'
          : st.isFIFO()
            ? 'fifo'
            : 'file';
    const h: Partial<TarHeader> = {
      type,
      mode: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: opts.fracMtime && ns ? Number(`${sec}.${ns.toString().padStart(9, '0')}`) : Number(sec),
    };
    if (type === 'file') h.size = Number(st.size);
    if (type === 'symlink') h.linkname = fs.readlinkSync(path.join(tree, rel));
    if (type === 'char') Object.assign(h, { devmajor: 1, devminor: 3 });
    return h;
  }

  async function check(args: string[], opts: { fracMtime: boolean; xattrs: boolean }, chunk = 4096) {
    const file = path.join(tmp, `gnu-${args.join('_').replace(/[^a-z0-9]/gi, '')}.tar`);
    run('tar', [...args, '-cf', file, '-C', tree, '.']);
    const got = await read(fs.readFileSync(file), chunk);
    const names = got.map((g) => g.header.name);
    const hardlinks = got.filter((g) => g.header.type === 'hardlink');
    for (const g of got) {
      const rel = g.header.name.replace(/^\.\//, '').replace(/\/$/, '') || '.';
      if (g.header.type === 'hardlink') {
        expect(['./d/file', './d/hard']).toContain(g.header.linkname);
        continue;
      }
      expect(g.header, rel).toMatchObject(expectedFor(rel, opts));
      if (g.header.type === 'directory') expect(g.header.name.endsWith('/')).toBe(true);
      if (g.header.type === 'file') expect(sha256(g.data)).toBe(sha256(fs.readFileSync(path.join(tree, rel))));
      if (opts.xattrs && rel === 'd/file') {
        expect(g.header.xattrs?.get('security.capability')).toEqual(cap);
        expect(g.header.xattrs?.get('user.note')).toEqual(Buffer.from('a=b\nc'));
      }
    }
    expect(hardlinks).toHaveLength(1);
    return names;
  }

  describe('with every entry kind', () => {
    beforeAll(() => {
      fs.mkdirSync(path.join(tree, longDir), { recursive: true });
      fs.writeFileSync(path.join(tree, longName), 'deep');
      fs.symlinkSync(longTarget, path.join(tree, 'longsym'));
      execFileSync('setfattr', ['-n', 'user.note', '-v', '0x' + Buffer.from('a=b\nc').toString('hex'), path.join(tree, 'd/file')]);
      if (isRoot) execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x' + cap.toString('hex'), path.join(tree, 'd/file')]);
    });
    afterAll(() => {
      fs.rmSync(path.join(tree, 'a'.repeat(120)), { recursive: true });
      fs.rmSync(path.join(tree, 'longsym'));
      execFileSync('setfattr', ['-x', 'user.note', path.join(tree, 'd/file')]);
      if (isRoot) execFileSync('setfattr', ['-x', 'security.capability', path.join(tree, 'd/file')]);
    });

    it('--format=posix --xattrs', async () => {
      const names = await check(['--format=posix', '--xattrs', '--xattrs-include=*'], { fracMtime: true, xattrs: isRoot }, 1);
      expect(names).toContain(`./${longName}`);
    });

    it('--format=gnu', async () => {
      const names = await check(['--format=gnu'], { fracMtime: false, xattrs: false }, 511);
      expect(names).toContain(`./${longName}`);
    });
  });

  it('--format=ustar', async () => {
    if (isRoot) fs.chownSync(path.join(tree, 'd/empty'), 0, 0);
    await check(['--format=ustar'], { fracMtime: false, xattrs: false }, 513);
  });

  it('--format=v7', async () => {
    // v7 has no devices or fifos: GNU tar skips them with a warning.
    const v7tree = path.join(tmp, 'v7');
    fs.mkdirSync(v7tree);
    const file = path.join(tmp, 'v7.tar');
    fs.cpSync(path.join(tree, 'd'), path.join(v7tree, 'd'), { recursive: true, verbatimSymlinks: true });
    run('tar', ['--format=v7', '-cf', file, '-C', v7tree, 'd']);
    const got = await read(fs.readFileSync(file), 97);
    expect(got.map((g) => [g.header.name, g.header.type])).toEqual(
      expect.arrayContaining([
        ['d/', 'directory'],
        ['d/file', 'file'],
        ['d/sym', 'symlink'],
      ]),
    );
    expect(got.find((g) => g.header.name === 'd/file')!.data).toEqual(fs.readFileSync(path.join(tree, 'd/file')));
  });

  it('GNU sparse files are refused naming the entry', async () => {
    const sp = path.join(tmp, 'sparse-src');
    fs.mkdirSync(sp);
    const fd = fs.openSync(path.join(sp, 'holes'), 'w');
    fs.writeSync(fd, 'head', 0);
    fs.writeSync(fd, 'tail', 4 * 1024 * 1024);
    fs.closeSync(fd);
    for (const format of ['gnu', 'posix']) {
      const file = path.join(tmp, `sparse-${format}.tar`);
      run('tar', [`--format=${format}`, '--sparse', '-cf', file, '-C', sp, 'holes']);
      await expectCode(read(fs.readFileSync(file)), ErrorCode.Unsupported, /holes.*sparse|sparse.*holes/i);
    }
  });
});
