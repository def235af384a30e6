// Tar writer that produces what Go's archive/tar writes with Format=PAX, as Docker's
// pkg/archive does: plain ustar blocks when the header fits, otherwise one PAX 'x' entry
// (records sorted by key, named "<dir>/PaxHeaders.0/<base>") followed by a ustar block
// holding the best-effort ASCII / zeroed fields.
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { BLOCK_SIZE, DEFAULT_MAX_PAX_BYTES, F, PAX, T, ZERO_BLOCK } from './constants.js';
import { invalidArchive, unsupportedEntry } from './errors.js';
import { encodeBlock } from './header.js';
import { fitsOctal } from './numeric.js';
import { encodePaxRecord, formatPaxTime } from './pax.js';
import type { EntryType, TarHeader } from './types.js';

/** Two zero blocks. Shared: never write into it. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK_SIZE);

/** Zero bytes up to the next block boundary after `size` data bytes (a shared, read-only slice). */
export function padding(size: number): Buffer {
  return ZERO_BLOCK.subarray(0, (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
}

const TYPEFLAG: Record<EntryType, number> = {
  file: T.reg,
  hardlink: T.link,
  symlink: T.symlink,
  char: T.char,
  block: T.block,
  directory: T.dir,
  fifo: T.fifo,
};

// eslint-disable-next-line no-control-regex
const PLAIN_ASCII = /^[\x01-\x7f]*$/;
// eslint-disable-next-line no-control-regex
const NOT_PLAIN_ASCII = /[^\x01-\x7f]/g;
const isAscii = (s: string) => PLAIN_ASCII.test(s);
/** Go's toASCII: drop what a ustar field cannot hold. */
const toAscii = (s: string) => (isAscii(s) ? s : s.replace(NOT_PLAIN_ASCII, ''));

/** Go's formatString on an ASCII string: cut to the field; a cut that ends in "/" gets a NUL after its last non-slash. */
function fieldString(s: string, len: number): string {
  if (s.length <= len) return s;
  const cut = s.slice(0, len);
  if (!cut.endsWith('/')) return cut;
  const n = cut.replace(/\/+$/, '').length;
  return `${cut.slice(0, n)}\0${cut.slice(n + 1)}`;
}

/** Go's splitUSTARPath: prefix (<=155) + "/" + name (<=100), for an ASCII path over 100 bytes. */
function splitUstarPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= F.name[1] || !isAscii(name)) return undefined;
  if (length > F.prefix[1] + 1) length = F.prefix[1] + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > F.name[1] || nlen === 0 || i > F.prefix[1]) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

/** "<dir>/PaxHeaders.0/<base>" as Go names the 'x' entry, cut to fit the name field. */
function paxHeaderName(name: string): string {
  const slash = name.lastIndexOf('/');
  const s = toAscii(posix.join(name.slice(0, slash + 1), 'PaxHeaders.0', name.slice(slash + 1)));
  return s.slice(0, F.name[1]).replace(/\/+$/, '');
}

const byteCompare = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function cannot(h: TarHeader, why: string) {
  return unsupportedEntry(`cannot encode: ${why}`, { name: h.name });
}

function checkCount(h: TarHeader, what: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw cannot(h, `${what} ${v} is not a non-negative integer`);
  return v;
}

/** Text that may go to PAX records must not hold NUL (Go's validPAXRecord). */
function checkText(h: TarHeader, what: string, v: string): string {
  if (v.includes('\0')) throw cannot(h, `NUL in ${what}`);
  return v;
}

/** How {@link encodeHeader} and {@link packEntries} write a header. */
export interface EncodeOptions {
  /**
   * Keep the file-type bits of `mode` (S_IFMT, 0o170000: 0o100000 for a regular file,
   * 0o040000 for a directory...) in the mode field, as Docker's archive.FileInfoHeader
   * writes them (its fillGo18FileTypeBits): pass the whole st_mode. Without it the field
   * holds `mode & 0o7777`, as Go's own tar.FileInfoHeader (since Go 1.9) and GNU tar write it.
   */
  fileTypeBits?: boolean;
}

/** The bits of `mode` that go into the header's mode field. */
export function modeField(mode: number, fileTypeBits: boolean | undefined): number {
  return mode & (fileTypeBits ? 0o177777 : 0o7777);
}

/**
 * The header blocks for one entry: a PAX extended header (records + padding) when some
 * field does not fit ustar, then the ustar block. Directory names get their trailing "/".
 */
export function encodeHeader(h: TarHeader, opts?: EncodeOptions): Buffer {
  const typeflag = TYPEFLAG[h.type];
  if (typeflag === undefined) throw cannot(h, `unknown type ${JSON.stringify(h.type)}`);
  if (typeof h.name !== 'string' || h.name === '') throw cannot(h, 'empty name');
  let name = checkText(h, 'name', h.name);
  const isLink = h.type === 'symlink' || h.type === 'hardlink';
  if (h.type === 'directory') {
    if (!name.endsWith('/')) name += '/';
  } else if (!isLink && name.endsWith('/')) {
    // Go refuses these too: readers would take the entry for a directory.
    throw cannot(h, 'only directories may end in "/"');
  }
  const linkname = isLink && h.linkname ? checkText(h, 'linkname', h.linkname) : '';
  const uname = h.uname ? checkText(h, 'uname', h.uname) : '';
  const gname = h.gname ? checkText(h, 'gname', h.gname) : '';
  const size = h.type === 'file' ? checkCount(h, 'size', h.size) : 0;
  const uid = checkCount(h, 'uid', h.uid);
  const gid = checkCount(h, 'gid', h.gid);
  const mode = modeField(checkCount(h, 'mode', h.mode), opts?.fileTypeBits);
  const devmajor = checkCount(h, 'devmajor', h.devmajor ?? 0);
  const devminor = checkCount(h, 'devminor', h.devminor ?? 0);
  // Go has no PAX record for device numbers either.
  if (!fitsOctal(devmajor, F.devmajor[1]) || !fitsOctal(devminor, F.devminor[1])) throw cannot(h, 'device number too large');
  if (!Number.isFinite(h.mtime)) throw cannot(h, `mtime ${h.mtime}`);
  const mtime = Math.floor(h.mtime);

  // Go's allowedFormats: the records PAX would need, and whether ustar still holds it all.
  // (A long name that ustar can split still gets a path record if PAX is needed anyway.)
  let records: Map<string, Buffer | string> | undefined;
  let ustar = true;
  const nameAscii = isAscii(name);
  if (!nameAscii || name.length > F.name[1]) {
    (records ??= new Map()).set(PAX.path, name);
    if (!splitUstarPath(name)) ustar = false;
  }
  // Every other record rules ustar out.
  const longText = (v: string, len: number) => v !== '' && (v.length > len || !isAscii(v));
  if (longText(linkname, F.linkname[1])) (records ??= new Map()).set(PAX.linkpath, linkname);
  if (longText(uname, F.uname[1])) (records ??= new Map()).set(PAX.uname, uname);
  if (longText(gname, F.gname[1])) (records ??= new Map()).set(PAX.gname, gname);
  if (!fitsOctal(uid, F.uid[1])) (records ??= new Map()).set(PAX.uid, String(uid));
  if (!fitsOctal(gid, F.gid[1])) (records ??= new Map()).set(PAX.gid, String(gid));
  if (!fitsOctal(size, F.size[1])) (records ??= new Map()).set(PAX.size, String(size));
  if (mtime !== h.mtime || !fitsOctal(mtime, F.mtime[1])) (records ??= new Map()).set(PAX.mtime, formatPaxTime(h.mtime));
  if (h.xattrs?.size) {
    for (const [attr, value] of h.xattrs) {
      if (attr === '' || attr.includes('=') || attr.includes('\0')) throw cannot(h, `xattr name ${JSON.stringify(attr)}`);
      (records ??= new Map()).set(PAX.xattrPrefix + attr, value);
    }
  }
  if (records && records.size > (records.has(PAX.path) ? 1 : 0)) ustar = false;

  if (ustar) {
    const split = name.length > F.name[1] ? splitUstarPath(name) : undefined;
    return encodeBlock({
      typeflag,
      name: split ? split[1] : name,
      prefix: split?.[0],
      linkname,
      mode,
      uid,
      gid,
      size,
      mtime,
      uname,
      gname,
      devmajor,
      devminor,
    });
  }

  const pax = records!;
  const keys = [...pax.keys()].sort(byteCompare);
  const data = Buffer.concat(keys.map((k) => encodePaxRecord(k, pax.get(k)!)));
  if (data.length > DEFAULT_MAX_PAX_BYTES)
    throw cannot(h, `PAX header of ${data.length} bytes is over the ${DEFAULT_MAX_PAX_BYTES}-byte limit`);
  const paxBlock = encodeBlock({ typeflag: T.paxLocal, name: paxHeaderName(name), mode: 0, uid: 0, gid: 0, size: data.length, mtime: 0 });
  // What PAX carries goes into the ustar block as Go does: ASCII only and cut, out-of-range numbers as 0.
  const orZero = (v: number, len: number) => (fitsOctal(v, len) ? v : 0);
  const main = encodeBlock({
    typeflag,
    name: fieldString(nameAscii ? name : toAscii(name), F.name[1]),
    linkname: fieldString(toAscii(linkname), F.linkname[1]),
    mode,
    uid: orZero(uid, F.uid[1]),
    gid: orZero(gid, F.gid[1]),
    size: orZero(size, F.size[1]),
    mtime: orZero(mtime, F.mtime[1]),
    uname: fieldString(toAscii(uname), F.uname[1]),
    gname: fieldString(toAscii(gname), F.gname[1]),
    devmajor,
    devminor,
  });
  return Buffer.concat([paxBlock, data, padding(data.length), main]);
}

/** One entry for {@link packEntries}: its header and, for a regular file, its bytes. */
export interface PackEntry {
  /** Written as ustar, with PAX records where a field does not fit (long names, big sizes, xattrs). */
  header: TarHeader;
  /** Exactly header.size bytes for files; nothing (or empty) for other types. Chunks are passed on uncopied. */
  body?: AsyncIterable<Uint8Array> | Uint8Array;
}

const asBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/**
 * A tar stream of `entries` and the end-of-archive blocks, as a Readable of Buffer chunks
 * (object mode, so chunks pass through uncopied: do not reuse a chunk's memory). Entries and
 * bodies are pulled only as the stream is read; pipe() / pipeline() / for-await all work.
 */
export function packEntries(entries: AsyncIterable<PackEntry> | Iterable<PackEntry>): Readable {
  return new TarPacker(entries);
}

/**
 * Pushes synchronously whatever it has (header, in-memory body, padding) and awaits only
 * the entry iterator and streamed bodies: fewer promise hops than Readable.from per entry.
 */
class TarPacker extends Readable {
  private readonly entries: AsyncIterator<PackEntry> | Iterator<PackEntry>;
  private readonly sync: boolean;
  private body: AsyncIterator<Uint8Array> | undefined;
  private header: TarHeader | undefined;
  private size = 0;
  private written = 0;
  private pumping = false;
  private readWhilePumping = false;

  constructor(entries: AsyncIterable<PackEntry> | Iterable<PackEntry>) {
    // Object mode: read() then hands out each chunk as pushed, where a byte-mode read()
    // concatenates (copies) whatever is buffered. Chunks are still only Buffers.
    super({ objectMode: true });
    this.sync = Symbol.iterator in entries;
    this.entries = this.sync
      ? (entries as Iterable<PackEntry>)[Symbol.iterator]()
      : (entries as AsyncIterable<PackEntry>)[Symbol.asyncIterator]();
  }

  override _read(): void {
    if (this.pumping) {
      // The running pump will push; remember the call in case it has just pushed its last.
      this.readWhilePumping = true;
      return;
    }
    this.pumping = true;
    this.pump().catch((err: unknown) => this.destroy(err as Error));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Release what the caller handed us (open files behind bodies, generators).
    const body = this.body;
    this.body = undefined;
    Promise.allSettled([body?.return?.(), this.entries.return?.()]).then(() => cb(err));
  }

  private mismatch(n: number) {
    return invalidArchive(`body has ${n}${n > this.size ? '+' : ''} bytes, header says ${this.size}`, { name: this.header?.name });
  }

  /** Pushes until the stream asks us to stop; _read() resumes from the same state. */
  private async pump(): Promise<void> {
    try {
      await this.pushUntilFull();
    } finally {
      this.pumping = false;
      // A _read() during the pump that no push answered would leave the stream waiting.
      if (this.readWhilePumping && !this.destroyed) queueMicrotask(() => this._read());
    }
  }

  override push(chunk: Buffer | null): boolean {
    this.readWhilePumping = false;
    return super.push(chunk);
  }

  private async pushUntilFull(): Promise<void> {
    for (;;) {
      if (this.destroyed) return;
      if (this.body) {
        const r = await this.body.next();
        if (this.destroyed) return;
        if (r.done) {
          this.body = undefined;
          if (this.written !== this.size) throw this.mismatch(this.written);
          const pad = padding(this.size);
          if (pad.length && !this.push(pad)) return;
          continue;
        }
        const chunk = r.value;
        if (chunk.length === 0) continue;
        this.written += chunk.length;
        if (this.written > this.size) throw this.mismatch(this.written);
        if (!this.push(asBuffer(chunk))) return;
        continue;
      }

      const next = this.sync ? (this.entries as Iterator<PackEntry>).next() : await this.entries.next();
      if (this.destroyed) return;
      if (next.done) {
        this.push(END_OF_ARCHIVE);
        this.push(null);
        return;
      }
      const { header, body } = next.value;
      this.header = header;
      this.size = header.type === 'file' ? header.size : 0;
      this.written = 0;
      let more = this.push(encodeHeader(header));
      if (body && !(body instanceof Uint8Array)) {
        this.body = body[Symbol.asyncIterator]();
      } else {
        const n = body?.length ?? 0;
        if (n !== this.size) throw this.mismatch(n);
        if (n) more = this.push(asBuffer(body!));
        const pad = padding(n);
        if (pad.length) more = this.push(pad);
      }
      if (!more) return;
    }
  }
}
