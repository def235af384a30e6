// Seeded random trees and random edits for the native-vs-naive diff tests of drivers (btrfs, overlay): files, dirs,
// symlinks, hard links, fifos, devices, owners, modes, xattrs (security.capability too),
// times, renames and type changes, on a real filesystem.
import {
  appendFile,
  chmod,
  lchown,
  link,
  lstat,
  mkdir,
  readdir,
  rename,
  rm,
  symlink,
  truncate,
  utimes,
  lutimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { tool } from '../exec.js';
import { rng } from './crash-model.js';
import { buildTree } from './fixtures.js';

const setfattr = tool('setfattr');
const mknodTool = tool('mknod');
const mkfifo = tool('mkfifo');

/**
 * A seeded pseudo-random source for {@link buildRandomTree} and {@link randomEdits}: the same
 * seed gives the same tree and edits, so a failing seed can be replayed.
 */
export class Rand {
  /** The next number in [0, 1). */
  readonly next: () => number;
  private counter = 0;
  /** @param seed - any integer; equal seeds give equal sequences. */
  constructor(seed: number) {
    this.next = rng(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One of `items`, or undefined when it is empty. */
  pick<T>(items: readonly T[]): T | undefined {
    return items.length ? items[this.int(items.length)] : undefined;
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A file name `<prefix><0..999>-<counter>`, never repeated by this source. */
  name(prefix = 'n'): string {
    return `${prefix}${this.int(1000)}-${this.counter++}`;
  }
  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** A security.capability v2 value: capability `bit` permitted and effective. */
function capBytes(bit: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000001, 0);
  b.writeUInt32LE(1 << bit, 4);
  return b;
}
const capValue = (bit: number) => '0x' + capBytes(bit).toString('hex');

export interface Entry {
  rel: string;
  kind: 'dir' | 'file' | 'symlink' | 'other';
  nlink: number;
}

/** Every entry under root (not root itself), no following of symlinks. */
export async function listEntries(root: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, r));
      const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      out.push({ rel: r, kind, nlink: st.nlink });
      if (kind === 'dir') await walk(r);
    }
  };
  await walk('');
  return out;
}

const modes = [0o644, 0o755, 0o600, 0o640, 0o4755, 0o2750, 0o1777];
const owners = [
  [0, 0],
  [1000, 1000],
  [1, 2],
];
const baseSec = 1_700_000_000;

async function randomTimes(r: Rand, path: string): Promise<void> {
  // whole seconds sometimes: the "same second, one side 0 ns" rule comes into play
  const t = baseSec + r.int(1_000_000) + (r.chance(0.5) ? 0 : r.int(1000) / 1000);
  await lutimes(path, t, t);
}

/** A random tree of about `size` entries under root (which must exist). */
export async function buildRandomTree(root: string, r: Rand, size = 150): Promise<void> {
  const dirs = [''];
  const files: string[] = [];
  for (let i = 0; i < size; i++) {
    const dir = r.pick(dirs) as string;
    const p = dir ? `${dir}/${r.name()}` : r.name();
    const abs = join(root, p);
    const what = r.int(20);
    if (what < 4 && dirs.length < 40) {
      await mkdir(abs);
      if (r.chance(0.3)) await chmod(abs, r.pick([0o755, 0o700, 0o1777]) as number);
      dirs.push(p);
    } else if (what < 14) {
      const xattrs: Record<string, Buffer> = {};
      if (r.chance(0.15)) xattrs[`user.k${r.int(3)}`] = Buffer.from(`v${r.int(5)}`);
      if (r.chance(0.05)) xattrs['security.capability'] = capBytes(10);
      const [uid, gid] = r.chance(0.2) ? (r.pick(owners) as number[]) : [0, 0];
      // buildTree sets xattrs in-process (no setfattr per file)
      await buildTree(root, [{ type: 'file', path: p, content: r.bytes(r.int(3000)), mode: r.pick(modes), owner: { uid, gid }, xattrs }]);
      files.push(p);
    } else if (what < 16) {
      await symlink(r.chance(0.5) ? (r.pick(files) ?? 'nowhere') : `../${r.name('t')}`, abs);
    } else if (what < 18 && files.length) {
      await link(join(root, r.pick(files) as string), abs);
    } else if (r.chance(0.3)) {
      // fifos and devices cost a process each: fewer of them
      if (r.chance(0.5)) await mkfifo.run([abs]);
      else await mknodTool.run([abs, 'c', '1', String(3 + r.int(3))]);
    } else {
      await writeFile(abs, '');
    }
    if (what >= 4 && what < 16 && r.chance(0.7)) await randomTimes(r, abs);
  }
}

/** Applies `count` random edits under root; returns a log of what was done. */
export async function randomEdits(root: string, r: Rand, count: number): Promise<string[]> {
  const log: string[] = [];
  for (let i = 0; i < count; i++) {
    const entries = await listEntries(root);
    const dirs = ['', ...entries.filter((e) => e.kind === 'dir').map((e) => e.rel)];
    const files = entries.filter((e) => e.kind === 'file').map((e) => e.rel);
    const linked = entries.filter((e) => e.kind === 'file' && e.nlink > 1).map((e) => e.rel);
    const any = entries.map((e) => e.rel);
    const nonRoot = dirs.filter((d) => d !== '');
    const at = (p: string) => join(root, p);
    const fresh = () => {
      const d = r.pick(dirs) as string;
      return d ? `${d}/${r.name()}` : r.name();
    };
    const op = r.int(25);
    try {
      switch (op) {
        case 0: {
          const p = fresh();
          await writeFile(at(p), r.bytes(r.int(2000)));
          log.push(`add ${p}`);
          break;
        }
        case 1: {
          const p = r.pick(files);
          if (!p) break;
          await writeFile(at(p), r.bytes(r.int(2000)));
          log.push(`rewrite ${p}`);
          break;
        }
        case 2: {
          const p = r.pick(files);
          if (!p) break;
          const st = await lstat(at(p));
          await writeFile(at(p), r.bytes(st.size), { flag: 'r+' });
          log.push(`same-size rewrite ${p}`);
          break;
        }
        case 3: {
          const p = r.pick(linked) ?? r.pick(files);
          if (!p) break;
          await appendFile(at(p), r.bytes(1 + r.int(100)));
          log.push(`append ${p}`);
          break;
        }
        case 4: {
          const p = r.pick(files);
          if (!p) break;
          await truncate(at(p), r.int(10));
          log.push(`truncate ${p}`);
          break;
        }
        case 5: {
          const p = r.pick(r.chance(0.3) ? linked : any);
          if (!p || (await lstat(at(p))).isSymbolicLink()) break;
          await chmod(at(p), r.pick(modes) as number);
          log.push(`chmod ${p}`);
          break;
        }
        case 6: {
          const p = r.pick(any);
          if (!p) break;
          const [u, g] = r.pick(owners) as number[];
          await lchown(at(p), u, g);
          log.push(`chown ${p} ${u}:${g}`);
          break;
        }
        case 7: {
          const p = r.pick(entries.filter((e) => e.kind !== 'dir').map((e) => e.rel));
          if (!p) break;
          await rm(at(p));
          log.push(`delete ${p}`);
          break;
        }
        case 8: {
          const p = r.pick(nonRoot);
          if (!p) break;
          await rm(at(p), { recursive: true });
          log.push(`delete dir ${p}`);
          break;
        }
        case 9: {
          const p = fresh();
          await mkdir(at(p));
          await buildRandomTree(at(p), r, 1 + r.int(6));
          log.push(`add dir ${p}`);
          break;
        }
        case 10: {
          const p = fresh();
          await symlink(r.pick(any) ?? 'x', at(p));
          log.push(`symlink ${p}`);
          break;
        }
        case 11: {
          const p = r.pick(entries.filter((e) => e.kind === 'symlink').map((e) => e.rel));
          if (!p) break;
          await rm(at(p));
          await symlink(`retargeted-${r.int(100)}`, at(p));
          log.push(`retarget ${p}`);
          break;
        }
        case 12: {
          const src = r.pick(files);
          if (!src) break;
          const p = fresh();
          await link(at(src), at(p));
          log.push(`link ${p} -> ${src}`);
          break;
        }
        case 13: {
          const src = r.pick(entries.filter((e) => e.kind !== 'dir').map((e) => e.rel));
          if (!src) break;
          const dest = r.chance(0.3) ? (r.pick(files) ?? fresh()) : fresh();
          await rename(at(src), at(dest));
          log.push(`rename ${src} -> ${dest}`);
          break;
        }
        case 14: {
          const src = r.pick(nonRoot);
          if (!src) break;
          const dest = fresh();
          if (dest.startsWith(src + '/')) break;
          await rename(at(src), at(dest));
          log.push(`rename dir ${src} -> ${dest}`);
          break;
        }
        case 15: {
          const a = r.pick(any);
          const b = r.pick(any);
          if (!a || !b || a === b || a.startsWith(b + '/') || b.startsWith(a + '/')) break;
          const tmp = `${a}.swap`;
          await rename(at(a), at(tmp));
          await rename(at(b), at(a));
          await rename(at(tmp), at(b));
          log.push(`swap ${a} <-> ${b}`);
          break;
        }
        case 16: {
          const p = r.pick(files);
          if (!p) break;
          await setfattr.run(['-n', `user.k${r.int(3)}`, '-v', `w${r.int(9)}`, at(p)]);
          log.push(`xattr ${p}`);
          break;
        }
        case 17: {
          const p = r.pick(files);
          if (!p) break;
          if (r.chance(0.5)) await setfattr.run(['-n', 'security.capability', '-v', capValue(r.int(20)), at(p)]);
          else await setfattr.run(['-x', 'security.capability', at(p)]).catch(() => {});
          log.push(`capability ${p}`);
          break;
        }
        case 18: {
          const p = r.pick(files);
          if (!p) break;
          await rm(at(p));
          await mkdir(at(p));
          await buildRandomTree(at(p), r, 1 + r.int(4));
          log.push(`file->dir ${p}`);
          break;
        }
        case 19: {
          const p = r.pick(nonRoot);
          if (!p) break;
          await rm(at(p), { recursive: true });
          await writeFile(at(p), r.bytes(r.int(100)));
          log.push(`dir->file ${p}`);
          break;
        }
        case 20: {
          const p = r.pick(any);
          if (!p) break;
          await randomTimes(r, at(p));
          log.push(`times ${p}`);
          break;
        }
        case 21: {
          // the same second with 0 ns: a change Docker's rule does not see
          const p = r.pick(files);
          if (!p) break;
          const st = await lstat(at(p));
          const s = Math.floor(st.mtimeMs / 1000);
          await utimes(at(p), s, s);
          log.push(`whole-second mtime ${p}`);
          break;
        }
        case 22: {
          const p = fresh();
          if (r.chance(0.5)) await mkfifo.run([at(p)]);
          else await mknodTool.run([at(p), r.chance(0.5) ? 'c' : 'b', '7', String(r.int(9))]);
          log.push(`special ${p}`);
          break;
        }
        case 24: {
          // a directory deleted and made again under the same name (opaque on overlay)
          const p = r.pick(nonRoot);
          if (!p) break;
          const old = await readdir(at(p));
          await rm(at(p), { recursive: true });
          await mkdir(at(p));
          await buildRandomTree(at(p), r, r.int(4));
          // and sometimes one of the old names again, as a new file
          const again = r.chance(0.5) ? r.pick(old) : undefined;
          if (again) await writeFile(at(`${p}/${again}`), r.bytes(r.int(50)));
          log.push(`recreate dir ${p}${again ? ` (${again} again)` : ''}`);
          break;
        }
        case 23: {
          const p = r.pick(linked);
          if (!p) break;
          await writeFile(at(p), r.bytes(r.int(500)), { flag: 'r+' });
          log.push(`rewrite linked ${p}`);
          break;
        }
      }
    } catch (err) {
      log.push(`op ${op} failed: ${(err as Error).message}`);
    }
  }
  return log;
}
