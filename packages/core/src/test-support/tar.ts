// Shared by reader.test.ts and writer.test.ts (not part of the package API).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { BLOCK_SIZE, F } from '../tar/constants.js';
import { encodeBlock, type BlockFields } from '../tar/header.js';
import type { TarEntry, TarHeader } from '../tar/types.js';
import { requireBackingSystem } from '../testing/backing-system.js';

/** Yields `data` in pieces of `size` bytes (copies, so a reader cannot rely on one big buffer). */
export async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield Buffer.from(data.subarray(i, i + size));
}

/** Yields `data` in pieces of varying odd sizes. */
export async function* oddChunks(data: Buffer): AsyncGenerator<Buffer> {
  const sizes = [1, 3, 511, 7, 513, 1021, 2, 4099, 97];
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = sizes[k % sizes.length];
    yield Buffer.from(data.subarray(i, i + n));
    i += n;
  }
}

export interface Read {
  header: TarHeader;
  data: Buffer;
}

/** Reads every entry with its whole body (test archives are small). */
export async function readAll(entries: AsyncIterable<TarEntry>): Promise<Read[]> {
  const out: Read[] = [];
  for await (const e of entries) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(Buffer.from(c));
    out.push({ header: e.header, data: Buffer.concat(parts) });
  }
  return out;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A valid ustar block with the given fields (defaults: a 0-byte file "f"). */
/** Names are given as text and stored as their UTF-8 bytes. */
export function block(f: Partial<BlockFields> = {}): Buffer {
  return encodeBlock({
    typeflag: 0x30,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    devmajor: 0,
    devminor: 0,
    ...f,
    name: Buffer.from(f.name ?? 'f').toString('latin1'),
    linkname: f.linkname === undefined ? undefined : Buffer.from(f.linkname).toString('latin1'),
  });
}

/** Recomputes the checksum after a test edited a block by hand. */
export function fixChecksum(b: Buffer): Buffer {
  b.fill(0x20, F.chksum[0], F.chksum[0] + F.chksum[1]);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += b[i];
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', F.chksum[0], 'latin1');
  return b;
}

export function pad(data: Buffer): Buffer {
  const n = (BLOCK_SIZE - (data.length % BLOCK_SIZE)) % BLOCK_SIZE;
  return Buffer.concat([data, Buffer.alloc(n)]);
}

export const END = Buffer.alloc(2 * BLOCK_SIZE);

/** A hand-made PAX 'x' meta entry (header + padded body) from raw record bytes. */
export function paxEntry(records: Buffer | string, typeflag = 0x78): Buffer {
  const body = Buffer.isBuffer(records) ? records : Buffer.from(records);
  return Buffer.concat([
    block({ name: 'PaxHeaders.0/f', typeflag, size: body.length, devmajor: undefined, devminor: undefined }),
    pad(body),
  ]);
}

/** Runs a command; throws with its stderr on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Root-only cases run as root; elsewhere core's rule skips them loudly (CI fails). */
export const isRoot = requireBackingSystem("the tar tests' root-only cases", process.getuid?.() === 0 ? null : 'needs root');
