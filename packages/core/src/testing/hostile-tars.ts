// A corpus of malicious and broken layer tarballs, made in code (raw header blocks, or
// core's own writer for the well-formed parts). It complements diff/apply-hostile.test.ts
// (names, "..", symlink and hardlink escapes, whiteouts) with what attacks the reader and
// the applier's resources: huge and corrupt headers, truncation, PAX and long-name bombs,
// deep nesting, name collisions, hardlink loops, devices and fifos, xattr floods, and
// floods of tiny entries. Every tar is a generator of chunks, so even the big ones cost
// no memory to make.
import { BLOCK_SIZE } from '../tar/constants.js';
import { encodeHeader, END_OF_ARCHIVE, padding } from '../tar/writer.js';
import type { TarHeader } from '../tar/types.js';
import { rng } from './crash-model.js';

/** What applying a {@link HostileTar} must do. */
export type HostileOutcome =
  /** Must fail with one of `codes`. */
  | 'refused'
  /** Must succeed (harmlessly, inside the layer). */
  | 'applied'
  /** Either: a typed refusal, or a harmless success. */
  | 'either';

/** One malicious or broken layer tar, with what applying it must do. */
export interface HostileTar {
  /** Short unique name, used in test titles and `knownIssues`. */
  name: string;
  /** The attack or breakage it represents, in one line. */
  why: string;
  /** Whether it must be refused, applied, or either. */
  expect: HostileOutcome;
  /** Error codes accepted when it fails (default: archive, unsafe, unsupported, no space, tool). */
  codes?: string[];
  /** The entry a refusal must name (its message holds the name in JSON quotes), where one is to blame. */
  entry?: string;
  /** The tar, chunk by chunk. */
  chunks(): Iterable<Buffer> | AsyncIterable<Buffer>;
  /** Most the process may grow (RSS) while it is applied (default 256 MiB). */
  memoryBound?: number;
  /** Too slow for every driver in CI: core's own test only, and `pnpm soak`. */
  heavy?: boolean;
}

/** The error codes a refused {@link HostileTar} may fail with unless it names its own `codes`. */
export const DEFAULT_HOSTILE_CODES = [
  'ERR_INVALID_ARCHIVE',
  'ERR_UNSAFE_ENTRY',
  'ERR_UNSUPPORTED_ENTRY',
  'ERR_NO_SPACE',
  'ERR_INVALID_OPTION',
];

// ---- raw blocks -------------------------------------------------------------------------

export interface RawFields {
  name?: string | Buffer;
  mode?: string;
  uid?: string | Buffer;
  gid?: string;
  /** Octal text, or raw bytes (base-256) for the 12-byte field. */
  size?: string | Buffer;
  mtime?: string | Buffer;
  typeflag?: string;
  linkname?: string;
  magic?: string;
  version?: string;
  devmajor?: string;
  devminor?: string;
  prefix?: string;
  /** Checksum text; computed when left out. */
  chksum?: string;
}

const put = (b: Buffer, off: number, len: number, v: string | Buffer | undefined) => {
  if (v === undefined) return;
  const bytes = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
  bytes.copy(b, off, 0, Math.min(len, bytes.length));
};

/** One ustar header block with exactly the given field texts and a correct checksum (unless given). */
export function rawBlock(f: RawFields): Buffer {
  const b = Buffer.alloc(BLOCK_SIZE);
  put(b, 0, 100, f.name ?? 'file');
  put(b, 100, 8, f.mode ?? '0000644\0');
  put(b, 108, 8, f.uid ?? '0000000\0');
  put(b, 116, 8, f.gid ?? '0000000\0');
  put(b, 124, 12, f.size ?? '00000000000\0');
  put(b, 136, 12, f.mtime ?? '14000000000\0');
  put(b, 156, 1, f.typeflag ?? '0');
  put(b, 157, 100, f.linkname);
  put(b, 257, 6, f.magic ?? 'ustar\0');
  put(b, 263, 2, f.version ?? '00');
  put(b, 329, 8, f.devmajor);
  put(b, 337, 8, f.devminor);
  put(b, 345, 155, f.prefix);
  if (f.chksum !== undefined) put(b, 148, 8, f.chksum);
  else {
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of b) sum += x;
    put(b, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  }
  return b;
}

/** Re-computes the checksum of a header block in place (after a field was rewritten). */
export function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i];
  Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `, 'latin1').copy(block, 148);
}

/** A whole entry: header block(s) from core's writer, then the body and its padding. */
export function entry(h: Partial<TarHeader> & { name: string }, body: Buffer = Buffer.alloc(0)): Buffer {
  const header: TarHeader = {
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: 1_700_000_000,
    ...h,
    size: h.type && h.type !== 'file' ? 0 : body.length,
  };
  return Buffer.concat([encodeHeader(header), body, padding(body.length)]);
}

/** A PAX 'x' header whose body holds `records` (each "len key=value\n" built here). */
export function paxEntry(records: Array<[string, string | Buffer]>, name = 'PaxHeaders.0/x'): Buffer {
  const body = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  return Buffer.concat([rawBlock({ name, typeflag: 'x', size: octal(body.length, 12) }), body, padding(body.length)]);
}

export function paxRecord(key: string, value: string | Buffer): Buffer {
  const kv = Buffer.concat([Buffer.from(` ${key}=`), Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from('\n')]);
  let len = kv.length + 1;
  while (String(len).length + kv.length !== len) len = String(len).length + kv.length;
  return Buffer.concat([Buffer.from(String(len)), kv]);
}

export const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;

/** The 12-byte base-256 (GNU) encoding of `n`. */
export function base256(n: bigint, width = 12): Buffer {
  const b = Buffer.alloc(width);
  for (let i = width - 1; i > 0; i--) {
    b[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  b[0] = 0x80;
  return b;
}

const file = (name: string, data = 'x') => entry({ name }, Buffer.from(data));
const dir = (name: string) => entry({ name, type: 'directory', mode: 0o755 });
const end = END_OF_ARCHIVE;

function* repeat(n: number, make: (i: number) => Buffer): Generator<Buffer> {
  // batched: one chunk per 256 entries keeps the stream cheap
  let batch: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    batch.push(make(i));
    if (batch.length === 256) {
      yield Buffer.concat(batch);
      batch = [];
    }
  }
  if (batch.length) yield Buffer.concat(batch);
}

/** Chunks of several parts, lazily (a generator part is only run as the stream is read). */
function* cat(...parts: Array<Buffer | Iterable<Buffer>>): Generator<Buffer> {
  for (const p of parts) {
    if (Buffer.isBuffer(p)) yield p;
    else yield* p;
  }
}

/** A valid archive with every entry kind (the fuzzer's seeds start from it). */
export function everyKindTar(): Buffer {
  return Buffer.concat([
    dir('d'),
    entry({ name: 'd/file', mode: 0o640, uid: 1000, gid: 1000 }, Buffer.from('hello\n')),
    entry({ name: 'd/big' }, Buffer.alloc(3000, 7)),
    entry({ name: 'd/link', type: 'symlink', linkname: 'file' }),
    entry({ name: 'd/hard', type: 'hardlink', linkname: 'd/file' }),
    entry({ name: 'd/fifo', type: 'fifo', mode: 0o600 }),
    entry({ name: 'd/null', type: 'char', devmajor: 1, devminor: 3 }),
    entry({ name: 'd/blk', type: 'block', devmajor: 7, devminor: 200 }),
    entry({ name: 'd/x', xattrs: new Map([['user.k', Buffer.from([0, 1, 2, 255])]]) }, Buffer.from('xattr\n')),
    entry({ name: `d/${'long-'.repeat(40)}name` }, Buffer.from('long\n')),
    entry({ name: 'd/.wh.gone' }),
    entry({ name: 'e/.wh..wh..opq' }),
    end,
  ]);
}

const symlink = (name: string, linkname: string) => entry({ name, type: 'symlink', linkname });
const hardlink = (name: string, linkname: string) => entry({ name, type: 'hardlink', linkname });

/** A GNU long-link record ('K') carrying `target` for the entry that follows. */
function gnuLongLink(target: string): Buffer {
  const body = Buffer.from(`${target}\0`);
  return Buffer.concat([rawBlock({ name: '././@LongLink', typeflag: 'K', size: octal(body.length, 12) }), body, padding(body.length)]);
}

/**
 * Archives that would leave a link in the layer leading out of it: every one refused with
 * ERR_UNSAFE_ENTRY (and nothing left behind), as Docker's pkg/archive refuses them with a
 * breakout error, whatever way the target is spelled (ustar field, PAX linkpath, GNU long
 * link). One benign archive of relative links that stay inside must apply.
 */
function linkOutTars(): HostileTar[] {
  const out = (name: string, why: string, entry: string, chunks: () => Buffer[]): HostileTar => ({
    name,
    why,
    expect: 'refused',
    codes: ['ERR_UNSAFE_ENTRY'],
    entry,
    chunks,
  });
  return [
    out('link-out-lone-dotdot', 'a lone symlink "dotdot -> ../victim/hello"', 'dotdot', () => [symlink('dotdot', '../victim/hello'), end]),
    out('link-out-far-above', 'a symlink 64 levels above the root', 'up', () => [symlink('up', `${'../'.repeat(64)}etc/shadow`), end]),
    out('link-out-nested', 'dir/loophole -> ../../victim (one level too many)', 'dir/loophole', () => [
      dir('dir'),
      symlink('dir/loophole', '../../victim'),
      end,
    ]),
    out('link-out-via-symlink', 'a symlink to a symlink that leads out (the first alone stays inside)', 's1', () => [
      symlink('s2', 's1'),
      symlink('s1', '../victim'),
      end,
    ]),
    out('link-out-opaque-beside', 'an opaque whiteout beside a symlink that leads out', 'd/l', () => [
      dir('d'),
      file('d/.wh..wh..opq', ''),
      symlink('d/l', '../../victim'),
      end,
    ]),
    out('link-out-opaque-through', 'a symlink that leads out, then an opaque whiteout through it', 'l', () => [
      symlink('l', '../victim'),
      file('l/.wh..wh..opq', ''),
      end,
    ]),
    out('link-out-whiteout-through', 'a symlink that leads out, then a whiteout through it (deleting victim/hello)', 'loophole', () => [
      symlink('loophole', '../victim'),
      file('loophole/.wh.hello', ''),
      end,
    ]),
    out(
      'link-out-whiteout-beside',
      'a whiteout of a name, then a symlink out at that name (revives it in an overlay upper dir)',
      'etc/zz',
      () => [dir('etc'), file('etc/.wh.zz', ''), file('etc/.wh.gone', ''), symlink('etc/zz', '../../victim'), end],
    ),
    out(
      'link-out-through-links',
      'two links each inside on paper that lead out together (top -> d1/d2/up/.., then up -> ../..)',
      'top',
      () => [dir('d1'), dir('d1/d2'), symlink('top', 'd1/d2/up/..'), symlink('d1/d2/up', '../..'), end],
    ),
    out('link-out-pax-linkpath', 'a symlink whose PAX linkpath leads out (the ustar field is harmless)', 'p', () => [
      paxEntry([['linkpath', '../../../etc/passwd']]),
      symlink('p', 'harmless'),
      end,
    ]),
    out('link-out-gnu-longlink', 'a symlink whose GNU long link leads out', 'g', () => [
      gnuLongLink(`${'x/../'.repeat(30)}../outside`),
      rawBlock({ name: 'g', typeflag: '2', linkname: 'harmless' }),
      end,
    ]),
    out('link-out-gnu-longlink-hardlink', 'a hardlink whose GNU long link climbs out', 'gh', () => [
      gnuLongLink(`${'y/'.repeat(40)}${'../'.repeat(41)}victim/hello`),
      rawBlock({ name: 'gh', typeflag: '1', linkname: 'harmless' }),
      end,
    ]),
    out('link-out-pax-hardlink', 'a hardlink whose PAX linkpath climbs out', 'h', () => [
      paxEntry([['linkpath', 'a/../../victim/hello']]),
      hardlink('h', 'harmless'),
      end,
    ]),
    out('link-out-hardlink-to-symlink', 'a hardlink, at the root, of a symlink that stays inside only from its own directory', 'h', () => [
      dir('a'),
      dir('a/b'),
      symlink('a/b/s', '../../x'),
      hardlink('h', 'a/b/s'),
      end,
    ]),
    out('link-out-dest-evil', 'a symlink to ../dest-evil (passes a string-prefix check beside a root named dest)', 'evil', () => [
      symlink('evil', '../dest-evil/x'),
      end,
    ]),
    out('link-out-after-content', 'a valid tree, then one symlink out at the end (all of it must go)', 'etc/zz', () => [
      dir('etc'),
      file('etc/hostname', 'box\n'),
      symlink('etc/localtime', '/usr/share/zoneinfo/UTC'),
      symlink('etc/zz', '../../victim'),
      end,
    ]),
    {
      name: 'links-relative-inside',
      why: 'relative symlinks and hardlinks of symlinks that stay inside, as a Debian root holds',
      expect: 'applied',
      chunks: () => [
        dir('usr'),
        dir('usr/lib'),
        dir('usr/bin'),
        file('usr/lib/libc.so.6', 'elf'),
        symlink('lib', 'usr/lib'),
        symlink('usr/lib/libc.so', 'libc.so.6'),
        symlink('usr/bin/ld', '../lib/libc.so'),
        symlink('usr/bin/root', '../..'),
        symlink('usr/bin/dot', '.'),
        symlink('usr/bin/abs', '/etc/passwd'),
        symlink('usr/bin/up-and-down', '../bin/./../lib//libc.so.6'),
        symlink('usr/bin/via-root', 'root/usr/lib/libc.so'),
        hardlink('usr/bin/ld2', 'usr/bin/ld'),
        hardlink('usr/lib/ld3', 'usr/bin/ld'),
        end,
      ],
    },
  ];
}

/** The corpus. Names are stable: the fuzzer and reports refer to them. */
export function hostileTars(): HostileTar[] {
  const valid = file('ok', 'fine\n');
  return [
    // --- huge headers and sizes ------------------------------------------------------------
    {
      name: 'size-8GiB-no-data',
      why: 'a file claims 8 GiB (octal) and the archive ends: no allocation of the claim, a truncation error',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [rawBlock({ name: 'huge', size: '77777777777\0' }), Buffer.alloc(4096, 1)],
    },
    {
      name: 'size-base256-2^62',
      why: 'a base-256 size of 2^62 bytes',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [rawBlock({ name: 'huge', size: base256(1n << 62n) }), Buffer.alloc(2048), end],
    },
    {
      name: 'size-base256-negative',
      why: 'a negative base-256 size',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [rawBlock({ name: 'neg', size: Buffer.from([0xff, ...Array(11).fill(0xff)]) }), end],
    },
    {
      name: 'size-not-octal',
      why: 'garbage in the size field',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [rawBlock({ name: 'bad', size: '9z9z9z9z9z9\0' }), end],
    },
    {
      name: 'uid-2^40',
      why: 'an owner beyond 32 bits (base-256)',
      expect: 'either',
      chunks: () => [rawBlock({ name: 'owner', uid: base256(1n << 40n, 8) }), end],
    },
    {
      name: 'mtime-absurd',
      why: 'a modification time of 2^60 seconds and a negative one',
      expect: 'either',
      chunks: () => [
        rawBlock({ name: 'future', mtime: base256(1n << 60n) }),
        rawBlock({ name: 'past', mtime: Buffer.from([0xff, ...Array(11).fill(0xfe)]) }),
        end,
      ],
    },
    {
      name: 'mode-garbage',
      why: 'non-octal mode and all set-id bits',
      expect: 'either',
      chunks: () => [rawBlock({ name: 'm1', mode: 'rwxrwxr\0' }), rawBlock({ name: 'm2', mode: '7777777\0' }), end],
    },
    // --- truncated and corrupt archives ----------------------------------------------------
    ...[0.1, 0.3, 0.5, 0.77, 0.99].map<HostileTar>((at) => ({
      name: `truncated-at-${Math.round(at * 100)}pct`,
      why: 'the archive stops part-way through',
      expect: 'either',
      chunks: () => {
        const t = everyKindTar();
        return [t.subarray(0, Math.floor(t.length * at) | 1)];
      },
    })),
    {
      name: 'truncated-mid-header',
      why: 'a header block cut in half after a valid entry',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [valid, rawBlock({ name: 'cut' }).subarray(0, 200)],
    },
    {
      name: 'bad-checksum',
      why: 'a header whose checksum does not match',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [valid, rawBlock({ name: 'evil', chksum: '0000000\0' }), end],
    },
    {
      name: 'random-garbage',
      why: '64 KiB of random bytes',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => {
        const r = rng(7);
        const b = Buffer.alloc(65536);
        for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
        return [b];
      },
    },
    {
      name: 'gzip-not-tar',
      why: 'a compressed stream handed over as a tar',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(1024, 0x55)])],
    },
    {
      name: 'zero-block-then-header',
      why: 'one zero block, then more entries (a hidden second archive)',
      expect: 'either',
      chunks: () => [valid, Buffer.alloc(BLOCK_SIZE), file('hidden'), end],
    },
    {
      name: 'unknown-typeflags',
      why: 'typeflags a layer never has (GNU sparse, volume label, multi-volume, "Z")',
      expect: 'either',
      codes: ['ERR_UNSUPPORTED_ENTRY', 'ERR_INVALID_ARCHIVE'],
      chunks: () => ['S', 'V', 'M', 'Z', 'N'].map((t) => rawBlock({ name: `t${t}`, typeflag: t })).concat([end]),
    },
    // --- PAX and long-name bombs ----------------------------------------------------------
    {
      name: 'pax-bomb-declared-1GiB',
      why: 'a PAX header that claims a 1 GiB body',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [rawBlock({ name: 'PaxHeaders/x', typeflag: 'x', size: octal(1 << 30, 12) }), Buffer.alloc(65536, 0x31)],
    },
    {
      name: 'gnu-longname-512MiB',
      why: 'a GNU long name entry that claims 512 MiB',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [rawBlock({ name: '././@LongLink', typeflag: 'L', size: octal(512 << 20, 12) }), Buffer.alloc(65536, 0x61)],
    },
    {
      name: 'pax-record-length-lies',
      why: 'a PAX record whose length runs past its header',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => {
        const body = Buffer.from('99999 path=evil\n');
        return [rawBlock({ name: 'P/x', typeflag: 'x', size: octal(body.length, 12) }), body, padding(body.length), file('evil'), end];
      },
    },
    {
      name: 'pax-many-records',
      why: '60 000 tiny PAX records (just under the PAX limit) on one entry',
      expect: 'either',
      chunks: () => {
        const recs: Array<[string, string]> = Array.from({ length: 60_000 }, (_, i) => [`GD.k${i}`, 'v']);
        return [paxEntry(recs), file('after-many-records'), end];
      },
    },
    {
      name: 'pax-chain-without-entry',
      why: '5 000 PAX headers in a row, each overriding the last, then the end',
      expect: 'either',
      chunks: () =>
        cat(
          repeat(5000, (i) => paxEntry([['path', `p${i}`]])),
          end,
        ),
    },
    {
      name: 'pax-path-traversal',
      why: 'a PAX path record that climbs out, over an innocent ustar name',
      expect: 'refused',
      codes: ['ERR_UNSAFE_ENTRY'],
      chunks: () => [paxEntry([['path', '../../../../gd-hostile-pax']]), file('innocent'), end],
    },
    {
      name: 'pax-size-overrides-to-huge',
      why: 'a PAX size record of 2^53 over a small ustar size',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE'],
      chunks: () => [paxEntry([['size', String(2 ** 53)]]), file('s', 'abc'), end],
    },
    {
      name: 'xattr-flood',
      why: '2 000 user xattrs of 512 bytes on one file',
      expect: 'either',
      chunks: () => {
        const recs: Array<[string, Buffer]> = Array.from({ length: 2000 }, (_, i) => [
          `SCHILY.xattr.user.k${i}`,
          Buffer.alloc(512, i % 256),
        ]);
        return [paxEntry(recs), file('xattrs'), end];
      },
    },
    {
      name: 'xattr-security-namespaces',
      why: 'xattrs in trusted., security. and system. namespaces (capabilities, ACLs) with garbage values',
      expect: 'either',
      chunks: () => [
        paxEntry([
          ['SCHILY.xattr.security.capability', Buffer.from([1, 2, 3])],
          ['SCHILY.xattr.system.posix_acl_access', Buffer.from('garbage')],
          ['SCHILY.xattr.trusted.overlay.opaque', 'y'],
        ]),
        file('caps'),
        end,
      ],
    },
    {
      name: 'symlink-target-64KiB',
      why: 'a symlink whose PAX linkpath is 64 KiB',
      expect: 'either',
      chunks: () => [paxEntry([['linkpath', 'a/'.repeat(32768)]]), rawBlock({ name: 'longlink', typeflag: '2' }), end],
    },
    // --- deep nesting ----------------------------------------------------------------------
    {
      name: 'deep-10k-levels',
      why: 'one file 10 000 directories deep (a 20 KB PAX path)',
      expect: 'either',
      chunks: () => [paxEntry([['path', `${'a/'.repeat(10_000)}deep`]]), file('placeholder'), end],
    },
    {
      name: 'deep-2k-dirs',
      why: '2 000 nested directory entries, each one level deeper',
      expect: 'either',
      chunks: () =>
        cat(
          repeat(2000, (i) => Buffer.concat([paxEntry([['path', `${'n/'.repeat(i + 1)}`]]), dir('placeholder')])),
          end,
        ),
    },
    // --- name collisions -------------------------------------------------------------------
    {
      name: 'collide-file-dir-symlink-fifo',
      why: 'the same name as file, directory, symlink, fifo and file again, 50 times over',
      expect: 'either',
      chunks: () =>
        cat(
          repeat(50, (i) =>
            Buffer.concat([
              file('c', `v${i}`),
              dir('c'),
              file('c/inner'),
              entry({ name: 'c', type: 'symlink', linkname: '/' }),
              entry({ name: 'c', type: 'fifo' }),
              file('c', `w${i}`),
            ]),
          ),
          end,
        ),
    },
    {
      name: 'collide-spellings',
      why: '"x", "./x", "/x", "x/", ".//x", "x/." all naming one path',
      expect: 'either',
      chunks: () => [
        file('x', '1'),
        file('./x', '2'),
        file('/x', '3'),
        dir('x/'),
        file('.//x', '4'),
        rawBlock({ name: 'x/.', typeflag: '5' }),
        end,
      ],
    },
    {
      name: 'collide-below-file',
      why: 'a file, then a path below it as if it were a directory',
      expect: 'either',
      codes: ['ERR_INVALID_ARCHIVE', 'ERR_UNSAFE_ENTRY'],
      chunks: () => [file('f'), file('f/g'), end],
    },
    // --- hardlinks -------------------------------------------------------------------------
    {
      name: 'hardlink-loop',
      why: 'a -> b and b -> a, neither a file',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE', 'ERR_UNSAFE_ENTRY'],
      chunks: () => [entry({ name: 'a', type: 'hardlink', linkname: 'b' }), entry({ name: 'b', type: 'hardlink', linkname: 'a' }), end],
    },
    {
      name: 'hardlink-to-itself',
      why: 'a file, then a hardlink a -> a',
      expect: 'either',
      codes: ['ERR_INVALID_ARCHIVE', 'ERR_UNSAFE_ENTRY'],
      chunks: () => [file('a'), entry({ name: 'a', type: 'hardlink', linkname: 'a' }), end],
    },
    {
      name: 'hardlink-chain-1000',
      why: '1 000 links, each to the one before (one inode, nlink 1001)',
      expect: 'either',
      chunks: () =>
        cat(
          file('h0'),
          repeat(1000, (i) => entry({ name: `h${i + 1}`, type: 'hardlink', linkname: `h${i}` })),
          end,
        ),
    },
    {
      name: 'hardlink-to-directory',
      why: 'a hardlink naming a directory',
      expect: 'refused',
      codes: ['ERR_INVALID_ARCHIVE', 'ERR_UNSAFE_ENTRY'],
      chunks: () => [dir('d'), entry({ name: 'l', type: 'hardlink', linkname: 'd' }), end],
    },
    // --- links that lead out of the layer (Docker's createTarFile rule; see linkLeavesRoot) --
    ...linkOutTars(),
    // --- devices and fifos -----------------------------------------------------------------
    {
      name: 'devices-and-fifos',
      why: 'char and block devices (kmem, a disk), and fifos: made inside the layer by root, skipped or refused otherwise',
      expect: 'either',
      codes: ['ERR_UNSUPPORTED_ENTRY', 'ERR_UNSAFE_ENTRY', 'ERR_INVALID_ARCHIVE'],
      chunks: () => [
        entry({ name: 'kmem', type: 'char', devmajor: 1, devminor: 2, mode: 0o666 }),
        entry({ name: 'sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o666 }),
        entry({ name: 'fifo', type: 'fifo', mode: 0o4777 }),
        entry({ name: 'fifo2', type: 'fifo' }),
        rawBlock({ name: 'bigdev', typeflag: '3', devmajor: '7777777\0', devminor: '7777777\0' }),
        end,
      ],
    },
    // --- floods ----------------------------------------------------------------------------
    {
      name: 'tiny-entries-20k',
      why: '20 000 empty files in 20 directories',
      expect: 'applied',
      chunks: () =>
        cat(
          repeat(20_000, (i) =>
            i % 1000 === 0
              ? Buffer.concat([dir(`t${i / 1000}`), file(`t${i / 1000}/e${i}`, '')])
              : file(`t${Math.floor(i / 1000)}/e${i}`, ''),
          ),
          end,
        ),
    },
    {
      name: 'tiny-entries-100k',
      why: '100 000 empty files in 100 directories: memory must stay flat',
      expect: 'applied',
      heavy: true,
      chunks: () =>
        cat(
          repeat(100_000, (i) =>
            i % 1000 === 0
              ? Buffer.concat([dir(`t${i / 1000}`), file(`t${i / 1000}/e${i}`, '')])
              : file(`t${Math.floor(i / 1000)}/e${i}`, ''),
          ),
          end,
        ),
    },
    {
      name: 'whiteout-flood',
      why: '50 000 whiteouts of names that do not exist',
      expect: 'either',
      chunks: () =>
        cat(
          repeat(50_000, (i) => file(`w/.wh.gone${i}`, '')),
          end,
        ),
    },
  ];
}
