// Reader of the btrfs send stream (kernel fs/btrfs/send.h, btrfs-progs send-stream.c).
//
//   stream  := "btrfs-stream\0" le32 version, then commands
//   command := le32 payload length, le16 command, le32 crc32c, then payload = TLVs
//   tlv     := le16 attribute, le16 length, value
//
// Only what the native diff needs is kept: the command and its path attributes. Parsing
// the binary stream in-process beats `btrfs receive --dump` (another process, then text with
// escaped paths to undo); see the README for the figures.

export const SendCommand = {
  Subvol: 1,
  Snapshot: 2,
  Mkfile: 3,
  Mkdir: 4,
  Mknod: 5,
  Mkfifo: 6,
  Mksock: 7,
  Symlink: 8,
  Rename: 9,
  Link: 10,
  Unlink: 11,
  Rmdir: 12,
  SetXattr: 13,
  RemoveXattr: 14,
  Write: 15,
  Clone: 16,
  Truncate: 17,
  Chmod: 18,
  Chown: 19,
  Utimes: 20,
  End: 21,
  UpdateExtent: 22,
  // protocol 2 and 3
  Fallocate: 23,
  Fileattr: 24,
  EncodedWrite: 25,
  EnableVerity: 26,
} as const;

const SendAttr = {
  Ino: 3,
  Path: 15,
  PathTo: 16,
  PathLink: 17,
  Data: 19,
} as const;

const commandNames: Record<number, string> = Object.fromEntries(Object.entries(SendCommand).map(([k, v]) => [v, k.toLowerCase()]));

export interface SendOp {
  cmd: number;
  /** PATH: the entry the command works on, relative to the subvolume root ("" = the root). */
  path?: string;
  /** PATH_TO: the new name of a rename. */
  pathTo?: string;
  /** PATH_LINK: the existing name a link points to, or a symlink's target. */
  pathLink?: string;
  ino?: bigint;
}

export interface SendStream {
  version: number;
  ops: SendOp[];
}

export class SendStreamError extends Error {
  constructor(message: string) {
    super(`btrfs send stream: ${message}`);
    this.name = 'SendStreamError';
  }
}

const MAGIC = Buffer.from('btrfs-stream\0', 'latin1');
const HEADER = MAGIC.length + 4;
const CMD_HEADER = 10;

export function sendCommandName(cmd: number): string {
  return commandNames[cmd] ?? `cmd${cmd}`;
}

/**
 * Decodes a path attribute. Names that are not valid UTF-8 cannot be named faithfully by a
 * JavaScript string (the naive diff cannot either), so they are reported as an error and
 * the caller falls back.
 */
function decodePath(buf: Buffer, start: number, end: number): string {
  const s = buf.toString('utf8', start, end);
  if (Buffer.byteLength(s) !== end - start || s.includes('\uFFFD')) {
    const raw = buf.subarray(start, end);
    if (!Buffer.from(s, 'utf8').equals(raw)) throw new SendStreamError(`path is not valid UTF-8: ${raw.toString('hex')}`);
  }
  return s;
}

/**
 * Decodes the command at `off` (its header and payload must be in `buf`). Returns the op and
 * the offset of the next command.
 */
function readCommand(buf: Buffer, off: number, version: number): [SendOp, number] {
  const len = buf.readUInt32LE(off);
  const cmd = buf.readUInt16LE(off + 4);
  const start = off + CMD_HEADER;
  const end = start + len;
  const op: SendOp = { cmd };
  let p = start;
  while (p < end) {
    if (p + 4 > end) throw new SendStreamError(`truncated attribute in ${sendCommandName(cmd)}`);
    const type = buf.readUInt16LE(p);
    let vlen = buf.readUInt16LE(p + 2);
    // From protocol 2 on, DATA has no length of its own: it runs to the command's end.
    if (type === SendAttr.Data && version >= 2) vlen = end - p - 4;
    const v = p + 4;
    if (v + vlen > end) throw new SendStreamError(`attribute ${type} overruns ${sendCommandName(cmd)}`);
    switch (type) {
      case SendAttr.Path:
        op.path = decodePath(buf, v, v + vlen);
        break;
      case SendAttr.PathTo:
        op.pathTo = decodePath(buf, v, v + vlen);
        break;
      case SendAttr.PathLink:
        // a symlink's target is bytes, not a name in this tree
        op.pathLink = cmd === SendCommand.Symlink ? buf.toString('utf8', v, v + vlen) : decodePath(buf, v, v + vlen);
        break;
      case SendAttr.Ino:
        if (vlen === 8) op.ino = buf.readBigUInt64LE(v);
        break;
    }
    p = v + vlen;
  }
  return [op, end];
}

function readVersion(buf: Buffer): number {
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new SendStreamError('bad magic');
  const version = buf.readUInt32LE(MAGIC.length);
  if (version < 1 || version > 3) throw new SendStreamError(`unsupported version ${version}`);
  return version;
}

/**
 * Reads a send stream as it arrives, in chunks of any size: each complete command goes to
 * `onOp` at once, and only an incomplete one is held back (a `--no-data` stream is never
 * held in memory whole). Stops at END; `end()` says whether the stream was complete.
 */
export class SendStreamReader {
  version = 0;
  /** True once END was read. */
  done = false;
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onOp: (op: SendOp) => void) {}

  push(chunk: Buffer): void {
    if (this.done) return;
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    if (this.version === 0) {
      if (buf.length < HEADER) {
        if (!MAGIC.subarray(0, Math.min(buf.length, MAGIC.length)).equals(buf.subarray(0, MAGIC.length)))
          throw new SendStreamError('bad magic');
        this.pending = buf;
        return;
      }
      this.version = readVersion(buf);
      off = HEADER;
    }
    while (off + CMD_HEADER <= buf.length) {
      const end = off + CMD_HEADER + buf.readUInt32LE(off);
      if (end > buf.length) break;
      const [op, next] = readCommand(buf, off, this.version);
      off = next;
      this.onOp(op);
      if (op.cmd === SendCommand.End) {
        this.done = true;
        buf = Buffer.alloc(0);
        off = 0;
        break;
      }
    }
    // a copy: the remainder must not keep a big chunk alive
    this.pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
  }

  /** The stream is over: throws if it was cut short (a partial command is left). */
  end(): void {
    if (this.version === 0) throw new SendStreamError(this.pending.length ? 'bad magic' : 'empty stream');
    if (this.pending.length === 0) return;
    if (this.pending.length < CMD_HEADER) throw new SendStreamError('truncated command header');
    throw new SendStreamError(`truncated ${sendCommandName(this.pending.readUInt16LE(4))} command`);
  }
}

/** Parses a whole send stream (one subvolume; stops at END). */
export function parseSendStream(buf: Buffer): SendStream {
  if (buf.length < HEADER) throw new SendStreamError('bad magic');
  const ops: SendOp[] = [];
  const reader = new SendStreamReader((op) => ops.push(op));
  reader.push(buf);
  reader.end();
  return { version: reader.version, ops };
}
