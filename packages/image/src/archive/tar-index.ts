// Random access to the files of a tar archive (oci-archive, docker-archive) without
// unpacking it: one pass over the headers records where each regular file's bytes lie, and
// blobs are then read straight from the archive file at their offsets. Names are only map
// keys (never paths on disk), so a hostile name cannot reach outside; sizes and counts are
// bounded, checksums checked.
import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { invalidImage } from '../errors.js';

const BLOCK = 512;
const MAX_ENTRIES = 100_000;
const MAX_PAX = 1 << 20;

export interface TarMember {
  offset: number;
  size: number;
}

/** `a/./b/` -> `a/b`; null for names that climb out (`..`) or are empty. */
export function normalMemberName(name: string): string | null {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  if (!n || n.split('/').includes('..')) return null;
  return n;
}

function cString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function numeric(b: Buffer, off: number, len: number, where: string): number {
  if (b[off] & 0x80) {
    // base-256 (GNU): big-endian, positive only
    let v = b[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    if (!Number.isSafeInteger(v)) throw where ? invalidImage(where, 'tar size out of range') : new Error('range');
    return v;
  }
  const s = cString(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalidImage(where, `bad octal number ${JSON.stringify(s)} in a tar header`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = numeric(h, 148, 8, 'tar header');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === stored;
}

function paxRecords(data: Buffer, where: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    const len = sp < 0 ? NaN : Number(data.toString('latin1', pos, sp));
    if (!Number.isSafeInteger(len) || len <= 0 || pos + len > data.length) throw invalidImage(where, 'malformed PAX record');
    const rec = data.toString('utf8', sp + 1, pos + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return out;
}

export class TarIndex {
  private constructor(
    readonly file: string,
    private readonly members: Map<string, TarMember>,
  ) {}

  /** Reads every header of `file`; ERR_IMAGE_INVALID for anything that is not a sound tar. */
  static async open(file: string): Promise<TarIndex> {
    const fh = await open(file, 'r');
    try {
      return new TarIndex(file, await scan(fh, file));
    } finally {
      await fh.close();
    }
  }

  has(name: string): boolean {
    const n = normalMemberName(name);
    return n !== null && this.members.has(n);
  }

  member(name: string): TarMember | undefined {
    const n = normalMemberName(name);
    return n === null ? undefined : this.members.get(n);
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  /** A member's bytes from `offset` on. */
  stream(m: TarMember, offset = 0): Readable {
    if (m.size === 0 || offset >= m.size) return createReadStream(this.file, { start: 1, end: 0 });
    return createReadStream(this.file, { start: m.offset + offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 });
  }

  /** A whole member, refused when over `max` bytes. */
  async read(name: string, max: number): Promise<Buffer> {
    const m = this.member(name);
    if (!m) throw invalidImage(this.file, `${name} is missing from the archive`);
    if (m.size > max) throw invalidImage(this.file, `${name} is ${m.size} bytes, over the ${max}-byte limit`);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(buf, 0, m.size, m.offset);
      if (bytesRead !== m.size) throw invalidImage(this.file, `${name} is cut short`);
      return buf;
    } finally {
      await fh.close();
    }
  }
}

async function scan(fh: FileHandle, file: string): Promise<Map<string, TarMember>> {
  const { size: fileSize } = await fh.stat();
  const members = new Map<string, TarMember>();
  const links: Array<[string, string]> = [];
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  for (let count = 0; ; count++) {
    if (count > MAX_ENTRIES) throw invalidImage(file, `more than ${MAX_ENTRIES} tar entries`);
    const { bytesRead } = await fh.read(header, 0, BLOCK, pos);
    if (bytesRead === 0 && members.size > 0) break; // no end blocks: tolerated, as Go's reader does
    if (bytesRead < BLOCK) throw invalidImage(file, pos === 0 ? 'not a tar archive (empty)' : 'tar archive cut short');
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw invalidImage(file, `not a tar archive (bad header checksum at byte ${pos})`);
    const type = String.fromCharCode(header[156] || 0x30);
    let size = numeric(header, 124, 12, file);
    const dataStart = pos + BLOCK;
    if (pax.has('size')) size = Number(pax.get('size'));
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > fileSize)
      throw invalidImage(file, `tar entry at byte ${pos} runs past the end of the archive`);
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_PAX) throw invalidImage(file, `tar extended header of ${size} bytes, over ${MAX_PAX}`);
      const body = Buffer.alloc(size);
      await fh.read(body, 0, size, dataStart);
      if (type === 'x') pax = paxRecords(body, file);
      else if (type === 'L') longName = cString(body, 0, size);
      pos = next;
      continue;
    }
    const prefix = header.subarray(257, 263).toString('latin1') === 'ustar\0' ? cString(header, 345, 155) : '';
    const raw = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
    const linkname = pax.get('linkpath') ?? cString(header, 157, 100);
    const name = normalMemberName(raw);
    if (name !== null) {
      if (type === '0' || type === '7') members.set(name, { offset: dataStart, size });
      else if (type === '1') links.push([name, linkname]);
      else if (type === '2') links.push([name, posix.join(posix.dirname(name), linkname)]);
    }
    longName = undefined;
    pax = new Map();
    pos = next;
  }
  // links (docker save links repeated layers) resolve to a regular member, if there is one
  for (const [name, target] of links) {
    const t = normalMemberName(target);
    const m = t === null ? undefined : members.get(t);
    if (m) members.set(name, m);
  }
  return members;
}
