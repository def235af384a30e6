// Test fixtures for applyLayer: temp dirs, tarballs from GNU tar (real trees) and python's
// tarfile (hand-made, hostile ones). Test-only code; tree snapshots are core/testing's snapshotTree.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
