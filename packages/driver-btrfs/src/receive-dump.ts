// The other way to read a send stream: `btrfs receive --dump` prints it as text. Kept to
// check the binary reader against btrfs-progs' own, and for the benchmark that compares
// the two (the binary reader wins: no second process, no unescaping).
//
// Format (btrfs-progs cmds/receive-dump.c): "<command> <path> key=value...", the path
// prefixed with "./<subvol>/", names escaped (space as "\ ", "\\", C escapes, other
// non-printable bytes as \ooo octal, which covers every byte of a non-ASCII name).
import { SendCommand, type SendOp } from './send-stream.js';

const escapes: Record<string, number> = { a: 7, b: 8, e: 27, f: 12, n: 10, r: 13, t: 9, v: 11, ' ': 32, '\\': 92 };

/** Splits a dump line on unescaped spaces and undoes the escapes of each field. */
function fields(line: string): string[] {
  const out: string[] = [];
  let bytes: number[] = [];
  let inField = false;
  const end = () => {
    if (inField) out.push(Buffer.from(bytes).toString('utf8'));
    bytes = [];
    inField = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      end();
      continue;
    }
    inField = true;
    if (c === '\\' && i + 1 < line.length) {
      const n = line[i + 1];
      if (/[0-7]/.test(n) && /^[0-7]{3}$/.test(line.slice(i + 1, i + 4))) {
        bytes.push(parseInt(line.slice(i + 1, i + 4), 8));
        i += 3;
        continue;
      }
      if (escapes[n] !== undefined) {
        bytes.push(escapes[n]);
        i += 1;
        continue;
      }
    }
    for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
  }
  end();
  return out;
}

const byName: Record<string, number> = {
  subvol: SendCommand.Subvol,
  snapshot: SendCommand.Snapshot,
  mkfile: SendCommand.Mkfile,
  mkdir: SendCommand.Mkdir,
  mknod: SendCommand.Mknod,
  mkfifo: SendCommand.Mkfifo,
  mksock: SendCommand.Mksock,
  symlink: SendCommand.Symlink,
  rename: SendCommand.Rename,
  link: SendCommand.Link,
  unlink: SendCommand.Unlink,
  rmdir: SendCommand.Rmdir,
  set_xattr: SendCommand.SetXattr,
  remove_xattr: SendCommand.RemoveXattr,
  write: SendCommand.Write,
  clone: SendCommand.Clone,
  truncate: SendCommand.Truncate,
  chmod: SendCommand.Chmod,
  chown: SendCommand.Chown,
  utimes: SendCommand.Utimes,
  update_extent: SendCommand.UpdateExtent,
  fallocate: SendCommand.Fallocate,
  fileattr: SendCommand.Fileattr,
  encoded_write: SendCommand.EncodedWrite,
  enable_verity: SendCommand.EnableVerity,
};

/** Parses `btrfs receive --dump` output into the ops parseSendStream gives. */
export function parseReceiveDump(text: string): SendOp[] {
  const ops: SendOp[] = [];
  let prefix = '';
  const strip = (p: string) => {
    const s = p.startsWith(prefix) ? p.slice(prefix.length) : p;
    return s.endsWith('/') ? s.slice(0, -1) : s;
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [name, path, ...rest] = fields(line);
    const cmd = byName[name];
    if (cmd === undefined) continue;
    if (cmd === SendCommand.Subvol || cmd === SendCommand.Snapshot) {
      prefix = path.endsWith('/') ? path : path + '/';
      ops.push({ cmd, path: path.replace(/^\.\//, '') });
      continue;
    }
    const op: SendOp = { cmd, path: strip(path) };
    const dest = rest.find((f) => f.startsWith('dest='))?.slice(5);
    if (cmd === SendCommand.Rename && dest !== undefined) op.pathTo = strip(dest);
    if ((cmd === SendCommand.Link || cmd === SendCommand.Symlink) && dest !== undefined) op.pathLink = dest;
    ops.push(op);
  }
  return ops;
}
