// Streaming tar reader: ustar, PAX (binary-safe xattrs), GNU long names and base-256,
// V7. One header block at a time; bodies are handed out as subarrays of the source's
// chunks, so memory stays flat whatever the file sizes.
import { BLOCK_SIZE, DEFAULT_MAX_PAX_BYTES, F, PAX, T } from './constants.js';
import { invalidArchive, unsupportedEntry, type Where } from './errors.js';
import { decodeHeader, isZeroBlock, type RawHeader } from './header.js';
import { parsePaxRecords, parsePaxTime } from './pax.js';
import { ByteSource } from './source.js';
import type { EntryType, TarEntry, TarHeader } from './types.js';

/** Limits of {@link readTar}. */
export interface ReadTarOptions {
  /** Largest PAX / GNU long-name body accepted (default 1 MiB); bigger ones are refused as a "PAX bomb". */
  maxPaxBytes?: number;
}

const TYPEFLAG_OFFSET = F.typeflag[0];

const padOf = (size: number) => (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;

/**
 * Yields the entries of a tar stream. Each body yields exactly `header.size` bytes; a body
 * not (fully) read before the next entry is requested is skipped. The source is pulled
 * only as the consumer pulls, and is closed (`return()`) when reading stops.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>, opts: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const maxPax = opts.maxPaxBytes ?? DEFAULT_MAX_PAX_BYTES;
  const src = new ByteSource(source);
  let entry: ReadEntry | null = null;
  try {
    // trailing bytes after the end blocks are ignored
    while ((entry = await nextEntry(src, maxPax, entry?.body)) !== null) yield entry;
  } finally {
    await stopReading(src, entry?.body);
  }
}

/**
 * readTar for a consumer that takes entries as a callback: `onEntry` gets each entry in
 * turn, and the next is read once the promise it returns (if any) settles. While the
 * source holds whole entries nothing is awaited at all, so a layer's thousands of small
 * entries cost no promise each (applyLayer; in a process that has just started, the async
 * generator's per-entry awaits, and V8 compiling it, cost more than the file system calls).
 */
export async function forEachTarEntry(
  source: AsyncIterable<Uint8Array>,
  onEntry: (entry: TarEntry) => Promise<unknown> | undefined,
  opts: ReadTarOptions = {},
): Promise<void> {
  const maxPax = opts.maxPaxBytes ?? DEFAULT_MAX_PAX_BYTES;
  const src = new ByteSource(source);
  let entry: ReadEntry | null = null;
  try {
    for (;;) {
      const next = nextEntry(src, maxPax, entry?.body);
      entry = next instanceof Promise ? await next : next;
      if (entry === null) return;
      const pending = onEntry(entry);
      if (pending !== undefined) await pending;
    }
  } finally {
    await stopReading(src, entry?.body);
  }
}

/** An entry as the readers hand it out: its body is this module's. */
interface ReadEntry extends TarEntry {
  body: EntryBody;
}

/**
 * The step both readers take: skips what is left of the previous entry's body, then reads
 * the next entry; null at the end of the archive. Returns without a promise when the source
 * already holds all it needs (the common case for the small entries of a layer).
 */
function nextEntry(src: ByteSource, maxPax: number, prev: EntryBody | undefined): ReadEntry | null | Promise<ReadEntry | null> {
  if (prev && !prev.finishBuffered()) return prev.finish().then(() => nextEntry(src, maxPax, undefined));
  const plain = readPlainHeaderBuffered(src);
  if (plain) return entryOf(src, plain);
  return readEntryHeader(src, maxPax).then((next) => next && entryOf(src, next));
}

function entryOf(src: ByteSource, next: NextEntry): ReadEntry {
  return { header: next.header, body: new EntryBody(src, next.dataSize, next.where) };
}

/** Reading stopped (the end, an error, or the consumer left): the body can no longer be read. */
async function stopReading(src: ByteSource, body: EntryBody | undefined): Promise<void> {
  body?.detach();
  // Like leaving a for-await loop; a failure to close must not hide why we stopped.
  await src.close().catch(() => undefined);
}

/** The body of the current entry: a one-shot async iterator over the source's chunks. */
class EntryBody implements AsyncIterableIterator<Buffer> {
  private remaining: number;
  private detached = false;

  constructor(
    private readonly src: ByteSource,
    private readonly size: number,
    private readonly where: Where,
  ) {
    this.remaining = size;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Buffer, undefined>> {
    if (this.remaining === 0) return { done: true, value: undefined };
    if (this.detached) throw new Error(`tar entry ${JSON.stringify(this.where.name)}: body read after the reader moved on`);
    if (!(await this.src.fill())) throw this.truncated();
    const chunk = this.src.take(this.remaining);
    this.remaining -= chunk.length;
    return { done: false, value: chunk };
  }

  /**
   * The whole (remaining) body when the source already holds it, as one subarray of its
   * chunk (no copy, no promise); undefined, with nothing consumed, when it does not. Lets
   * a consumer handle the many small files of a layer synchronously.
   */
  takeBuffered(): Buffer | undefined {
    if (this.detached) return undefined;
    const chunk = this.src.readBuffered(this.remaining);
    if (chunk !== undefined) this.remaining = 0;
    return chunk;
  }

  /** Leaving a for-await early is fine: the reader skips what is left. */
  async return(): Promise<IteratorResult<Buffer, undefined>> {
    return { done: true, value: undefined };
  }

  detach(): void {
    this.detached = true;
  }

  /** Skips the rest of the body and its padding if already buffered (the common case for small files). */
  finishBuffered(): boolean {
    this.detach();
    return this.src.skipBuffered(this.remaining + padOf(this.size));
  }

  /**
   * Skips the unread part of the body and the block padding. EOF right after the body (no
   * padding at all) ends the archive, as in Go's archive/tar, which Docker and umoci use
   * (umoci 0.4's `insert` writes layers that end so); a partial padding is corruption.
   */
  async finish(): Promise<void> {
    this.detach();
    if ((await this.src.skip(this.remaining)) < this.remaining) throw this.truncated();
    const pad = padOf(this.size);
    const skipped = await this.src.skip(pad);
    if (skipped > 0 && skipped < pad) throw this.truncated();
  }

  private truncated() {
    return invalidArchive(`archive ends inside the entry's ${this.size}-byte body`, { ...this.where, offset: this.src.position });
  }
}

interface NextEntry {
  header: TarHeader;
  /** Bytes of data in the archive (0 for header-only types whatever the size field says). */
  dataSize: number;
  where: Where;
}

/**
 * The common case of readEntryHeader without a promise: the next entry's header is one
 * plain block (no PAX or GNU long-name block before it) that the source already holds.
 * Returns undefined, having consumed nothing, for anything else.
 */
function readPlainHeaderBuffered(src: ByteSource): NextEntry | undefined {
  const block = src.peekBuffered(BLOCK_SIZE);
  if (block === undefined || isZeroBlock(block)) return undefined;
  const flag = block[TYPEFLAG_OFFSET];
  if (flag === T.paxLocal || flag === T.paxGlobal || flag === T.gnuLongName || flag === T.gnuLongLink) return undefined;
  const offset = src.position;
  const raw = decodeHeader(block, offset);
  src.take(BLOCK_SIZE);
  return buildEntry(raw, offset, undefined, undefined, undefined);
}

/** Reads meta headers (PAX, GNU long names) up to the next real entry; null at the end of the archive. */
async function readEntryHeader(src: ByteSource, maxPax: number): Promise<NextEntry | null> {
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pendingMeta: Where | undefined;

  for (;;) {
    const offset = src.position;
    const block = src.readBuffered(BLOCK_SIZE) ?? (await src.read(BLOCK_SIZE));
    if (block.length === 0) {
      // EOF on a block boundary without end blocks: accepted, as GNU tar and Go do.
      if (pendingMeta) throw invalidArchive('archive ends after an extended header, before its entry', pendingMeta);
      return null;
    }
    if (block.length < BLOCK_SIZE) throw invalidArchive(`truncated header (${block.length} of ${BLOCK_SIZE} bytes)`, { offset });
    if (isZeroBlock(block)) {
      if (pendingMeta) throw invalidArchive('end of archive right after an extended header', pendingMeta);
      const second = await src.read(BLOCK_SIZE);
      // A lone zero block then EOF is accepted as GNU tar does.
      if (second.length === 0 || (second.length === BLOCK_SIZE && isZeroBlock(second))) return null;
      if (second.length < BLOCK_SIZE)
        throw invalidArchive(`truncated block after a zero block (${second.length} bytes)`, { offset: offset + BLOCK_SIZE });
      // Like Go's archive/tar: a zero block then a header means corruption, not the end.
      throw invalidArchive('a single zero block followed by more data', { offset });
    }

    const raw = decodeHeader(block, offset);
    const where: Where = { offset, name: raw.name };
    switch (raw.typeflag) {
      case T.paxLocal:
        // Go's rule: a second 'x' replaces the first.
        pax = parsePaxRecords(await readMetaBody(src, raw, maxPax, where), where);
        pendingMeta = where;
        continue;
      case T.paxGlobal:
        // Ignored, as Docker does, but it must still be well formed.
        parsePaxRecords(await readMetaBody(src, raw, maxPax, where), where);
        continue;
      case T.gnuLongName:
        longName = cString(await readMetaBody(src, raw, maxPax, where));
        pendingMeta = where;
        continue;
      case T.gnuLongLink:
        longLink = cString(await readMetaBody(src, raw, maxPax, where));
        pendingMeta = where;
        continue;
    }
    return buildEntry(raw, offset, pax, longName, longLink);
  }
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

/** The body of a meta header, copied (it outlives the source chunk) and bounded by maxPax. */
async function readMetaBody(src: ByteSource, raw: RawHeader, maxPax: number, where: Where): Promise<Buffer> {
  const kind = raw.typeflag === T.gnuLongName || raw.typeflag === T.gnuLongLink ? 'GNU long name' : 'PAX header';
  if (raw.size > maxPax) throw invalidArchive(`${kind} of ${raw.size} bytes exceeds the ${maxPax}-byte limit`, where);
  // Copied before the padding is skipped: skipping may pull the next chunk, and a source
  // may reuse the buffer `data` lies in (applyLayer's file reads do).
  const data = Buffer.from(await src.read(raw.size));
  if (data.length < raw.size) throw invalidArchive(`archive ends inside a ${raw.size}-byte ${kind}`, where);
  const pad = padOf(raw.size);
  if ((await src.skip(pad)) < pad) throw invalidArchive(`archive ends inside the padding of a ${kind}`, where);
  return data;
}

const DECIMAL = /^\d+$/;

function buildEntry(
  raw: RawHeader,
  offset: number,
  pax: Map<string, Buffer> | undefined,
  longName: string | undefined,
  longLink: string | undefined,
): NextEntry {
  // The name first, so every later error names the entry by its real name.
  let name = raw.name;
  const paxPath = pax?.get(PAX.path);
  if (paxPath?.length) name = paxText(paxPath, PAX.path, { offset, name });
  if (longName !== undefined) name = longName; // Go lets GNU long names win over PAX
  const where: Where = { offset, name };

  let { linkname, size, uid, gid, mtime, uname, gname } = raw;
  let xattrs: Map<string, Buffer> | undefined;
  if (pax) {
    const int = (v: Buffer, key: string) => {
      const s = v.toString('latin1');
      const n = DECIMAL.test(s) ? Number(s) : NaN;
      if (!Number.isSafeInteger(n)) throw invalidArchive(`PAX ${key}=${JSON.stringify(s)} is not a non-negative integer`, where);
      return n;
    };
    const time = (v: Buffer, key: string) => {
      const s = v.toString('latin1');
      const t = parsePaxTime(s);
      if (Number.isNaN(t)) throw invalidArchive(`PAX ${key}=${JSON.stringify(s)} is not a time`, where);
      return t;
    };
    for (const [key, v] of pax) {
      if (key.startsWith(PAX.xattrPrefix)) {
        const attr = key.slice(PAX.xattrPrefix.length);
        if (!attr) throw invalidArchive('PAX xattr record without an attribute name', where);
        (xattrs ??= new Map()).set(attr, v);
        continue;
      }
      if (key.startsWith(PAX.gnuSparsePrefix)) {
        const real = pax.get(`${PAX.gnuSparsePrefix}name`);
        throw unsupportedEntry(`GNU sparse file (PAX ${key})`, real?.length ? { offset, name: real.toString('utf8') } : where);
      }
      // An empty value means "use the header block's field" (as Go reads it).
      if (v.length === 0) continue;
      switch (key) {
        case PAX.linkpath:
          linkname = paxText(v, key, where);
          break;
        case PAX.uname:
          uname = paxText(v, key, where);
          break;
        case PAX.gname:
          gname = paxText(v, key, where);
          break;
        case PAX.uid:
          uid = int(v, key);
          break;
        case PAX.gid:
          gid = int(v, key);
          break;
        case PAX.size:
          size = int(v, key);
          break;
        case PAX.mtime:
          mtime = time(v, key);
          break;
        case PAX.atime:
        case PAX.ctime:
          time(v, key); // not kept, but must be well formed
          break;
      }
    }
  }
  if (longLink !== undefined) linkname = longLink;

  const type = entryType(raw.typeflag, name, where);
  const header: TarHeader = {
    name,
    type,
    mode: raw.mode & 0o7777,
    uid,
    gid,
    size: type === 'file' ? size : 0,
    mtime,
  };
  if (uname) header.uname = uname;
  if (gname) header.gname = gname;
  if (type === 'symlink' || type === 'hardlink') header.linkname = linkname;
  if (type === 'char' || type === 'block') {
    header.devmajor = raw.devmajor;
    header.devminor = raw.devminor;
  }
  if (xattrs) header.xattrs = xattrs;
  return { header, dataSize: header.size, where };
}

/** Path-like PAX values are UTF-8 text and may not hold NUL. */
function paxText(v: Buffer, key: string, where: Where): string {
  if (v.includes(0)) throw invalidArchive(`PAX ${key} contains NUL`, where);
  return v.toString('utf8');
}

function entryType(flag: number, name: string, where: Where): EntryType {
  switch (flag) {
    case T.regA:
      // Old archives mark directories only by the trailing slash.
      return name.endsWith('/') ? 'directory' : 'file';
    case T.reg:
    case T.cont:
      return 'file';
    case T.link:
      return 'hardlink';
    case T.symlink:
      return 'symlink';
    case T.char:
      return 'char';
    case T.block:
      return 'block';
    case T.dir:
      return 'directory';
    case T.fifo:
      return 'fifo';
    case T.gnuSparse:
      throw unsupportedEntry('GNU sparse file (typeflag S)', where);
    default: {
      const c = String.fromCharCode(flag);
      const shown = flag >= 0x20 && flag < 0x7f ? `'${c}'` : `0x${flag.toString(16)}`;
      throw unsupportedEntry(`unknown typeflag ${shown}`, where);
    }
  }
}
