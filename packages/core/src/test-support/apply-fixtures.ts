// Test fixtures for applyLayer: temp dirs, tarballs from GNU tar (real trees) and python's
// tarfile (hand-made, hostile ones), and tree snapshots to compare. Test-only code.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lgetxattrSync, llistxattrSync, xattrBinding } from '../fs/xattr.js';

const run = promisify(execFile);

export async function tmpDir(prefix = 'gd-apply-'): Promise<string> {
  return fs.promises.mkdtemp(join(tmpdir(), prefix));
}

/** `tar -cf out -C src .` with numeric owners and every xattr namespace, as a layer export. */
export async function gnuTar(src: string, out: string, extra: string[] = []): Promise<void> {
  await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', ...extra, '-cf', out, '-C', src, '.']);
}

export interface PyEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';
  /** File data as UTF-8 text. */
  data?: string;
  /** Or this many bytes of a repeating pattern. */
  bytes?: number;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  /** Raw PAX records (e.g. SCHILY.xattr.user.x, path). */
  pax?: Record<string, string>;
}

const PY = String.raw`
import io, json, sys, tarfile
spec = json.load(sys.stdin)
fmt = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT, 'ustar': tarfile.USTAR_FORMAT}[spec['format']]
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'link': tarfile.LNKTYPE,
         'char': tarfile.CHRTYPE, 'block': tarfile.BLKTYPE, 'fifo': tarfile.FIFOTYPE}
with tarfile.open(spec['out'], 'w', format=fmt) as t:
    for e in spec['entries']:
        ti = tarfile.TarInfo(e['name'])
        kind = e.get('type', 'file')
        ti.type = types[kind]
        ti.mode = e.get('mode', 0o755 if kind == 'dir' else 0o644)
        ti.uid = e.get('uid', 0)
        ti.gid = e.get('gid', 0)
        ti.mtime = e.get('mtime', 1700000000)
        ti.linkname = e.get('linkname', '')
        ti.devmajor = e.get('devmajor', 0)
        ti.devminor = e.get('devminor', 0)
        if 'pax' in e:
            ti.pax_headers = e['pax']
        if kind == 'file':
            if 'bytes' in e:
                data = (b'0123456789abcdef' * (e['bytes'] // 16 + 1))[:e['bytes']]
            else:
                data = e.get('data', '').encode('utf-8')
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        else:
            t.addfile(ti)
`;

// The system interpreter starts in a fraction of the time a pyenv shim takes.
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Writes a tar with python's tarfile, which writes names (.., /abs, NUL) exactly as given. */
export async function pyTar(out: string, entries: PyEntry[], format: 'pax' | 'gnu' | 'ustar' = 'pax'): Promise<string> {
  const child = execFile(PYTHON, ['-c', PY]);
  const done = new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`python3 tarfile failed (${code}): ${stderr}`))));
  });
  child.stdin?.end(JSON.stringify({ out, entries, format }));
  await done;
  return out;
}

export interface NodeInfo {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds. */
  mtime: number;
  /** Nanoseconds, for byte-for-byte comparisons (omitted unless asked). */
  mtimeNs?: string;
  sha?: string;
  link?: string;
  rdev?: number;
  ino?: number;
  nlink?: number;
  xattrs: Record<string, string>;
}

function typeOf(st: fs.BigIntStats): NodeInfo['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

export interface SnapshotOptions {
  /** Absolute paths not to descend into (nor list). */
  exclude?: string[];
  /** Keep inode numbers, link counts and nanosecond mtimes (for "untouched" checks). */
  exact?: boolean;
  /** Leave out the root's own entry. */
  skipRoot?: boolean;
}

/** Every path under `dir` ("" is the root) with its metadata, content hash and xattrs. */
export async function snapshot(dir: string, opts: SnapshotOptions = {}): Promise<Map<string, NodeInfo>> {
  const xb = xattrBinding();
  const out = new Map<string, NodeInfo>();
  const exclude = new Set(opts.exclude ?? []);
  const visit = (abs: string, rel: string) => {
    if (exclude.has(abs)) return;
    const st = fs.lstatSync(abs, { bigint: true });
    const type = typeOf(st);
    const xattrs: Record<string, string> = {};
    for (const name of llistxattrSync(xb, abs).sort()) {
      xattrs[name] = (lgetxattrSync(xb, abs, name) ?? Buffer.alloc(0)).toString('hex');
    }
    const info: NodeInfo = {
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'dir' ? 0 : Number(st.size),
      mtime: Number(st.mtimeNs / 1_000_000_000n),
      xattrs,
    };
    if (opts.exact) {
      info.mtimeNs = String(st.mtimeNs);
      info.ino = Number(st.ino);
      info.nlink = Number(st.nlink);
    }
    if (type === 'file') info.sha = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    if (type === 'symlink') info.link = fs.readlinkSync(abs);
    if (type === 'char' || type === 'block') info.rdev = Number(st.rdev);
    if (!(opts.skipRoot && rel === '')) out.set(rel, info);
    if (type === 'dir') {
      for (const name of fs.readdirSync(abs).sort()) visit(join(abs, name), rel === '' ? name : `${rel}/${name}`);
    }
  };
  visit(dir, '');
  return out;
}

/** Groups paths by inode: the sets of paths that are hard links of each other. */
export async function linkGroups(dir: string): Promise<string[][]> {
  const byIno = new Map<string, string[]>();
  const visit = (abs: string, rel: string) => {
    const st = fs.lstatSync(abs);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) visit(join(abs, name), rel === '' ? name : `${rel}/${name}`);
    } else if (st.nlink > 1) {
      const k = `${st.dev}:${st.ino}`;
      byIno.set(k, [...(byIno.get(k) ?? []), rel]);
    }
  };
  visit(dir, '');
  return [...byIno.values()].map((g) => g.sort()).sort((a, b) => a[0].localeCompare(b[0]));
}

export function toObject(m: Map<string, NodeInfo>): Record<string, NodeInfo> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
