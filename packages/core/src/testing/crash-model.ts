// What the crash campaign's child does and what the parent expects of it, computed the same
// way on both sides from seeds: the random number generator, the layer tars (entries from a
// seed), the expected tree of a layer as a map path -> digest, and the digest of a real tree.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { packEntries, type PackEntry } from '../tar/writer.js';

/** mulberry32: small, fast, good enough for picking test actions; same sequence everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Deterministic bytes: a 4 KiB block of the seed's sequence, tiled (cheap even for MiBs). */
export function seededBytes(size: number, seed: number): Buffer {
  const block = Buffer.alloc(4096);
  const r = rng(seed);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((r() * 4294967296) >>> 0, i);
  const out = Buffer.alloc(size);
  for (let off = 0; off < size; off += block.length) block.copy(out, off, 0, Math.min(block.length, size - off));
  // Vary the tiles so no two 4 KiB blocks of a file are equal (defeats any dedup or compression).
  for (let off = 0; off + 8 <= size; off += block.length) out.writeUInt32LE(off ^ seed, off);
  return out;
}

/** A layer's expected tree: relative path -> "d:<mode>", "f:<mode>:<sha1>" or "l:<target>". */
export type TreeModel = Map<string, string>;

export type TarAction =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; size: number; seed: number; mode: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'whiteout'; path: string };

/**
 * The actions of one layer tar, from its seed alone: files in a few directories, some large
 * enough that unpacking takes a while (a kill lands inside it), symlinks, and whiteouts of
 * names earlier tars may have made.
 */
export function tarActions(seed: number, scale = 1): TarAction[] {
  const r = rng(seed);
  const out: TarAction[] = [];
  const dirs = randInt(r, 1, 4);
  for (let d = 0; d < dirs; d++) {
    const dir = `d${randInt(r, 0, 5)}`;
    if (out.some((a) => a.path === dir)) continue;
    out.push({ kind: 'dir', path: dir });
    const files = randInt(r, 2, Math.max(2, Math.round(24 * scale)));
    for (let f = 0; f < files; f++) {
      const path = `${dir}/f${randInt(r, 0, 40)}`;
      if (out.some((a) => a.path === path)) continue;
      const big = r() < 0.06;
      const size = big ? randInt(r, 512 << 10, Math.round((3 << 20) * scale)) : randInt(r, 0, 96 << 10);
      out.push({ kind: 'file', path, size, seed: (r() * 2 ** 31) >>> 0, mode: pick(r, [0o644, 0o600, 0o755]) });
    }
    if (r() < 0.5) out.push({ kind: 'symlink', path: `${dir}/ln${randInt(r, 0, 3)}`, target: `f${randInt(r, 0, 40)}` });
  }
  const whiteouts = randInt(r, 0, 3);
  for (let w = 0; w < whiteouts; w++) {
    const path = r() < 0.2 ? `d${randInt(r, 0, 5)}` : `d${randInt(r, 0, 5)}/f${randInt(r, 0, 40)}`;
    // a tar does not both make and white out a name (Docker's order would make that moot)
    if (!out.some((a) => a.path === path || a.path.startsWith(path + '/'))) out.push({ kind: 'whiteout', path });
  }
  // whiteouts first (as Docker's export writes them next to their directory's entries)
  return [...out.filter((a) => a.kind === 'whiteout'), ...out.filter((a) => a.kind !== 'whiteout')];
}

const MTIME = 1_700_000_000;

/** The tar of `tarActions(seed)`, streamed (bodies are made as the stream is read). */
export function layerTar(seed: number, scale = 1) {
  const actions = tarActions(seed, scale);
  function* entries(): Generator<PackEntry> {
    for (const a of actions) {
      const base = { mode: 0o755, uid: 0, gid: 0, size: 0, mtime: MTIME };
      if (a.kind === 'dir') yield { header: { ...base, name: `${a.path}/`, type: 'directory' } };
      else if (a.kind === 'symlink') yield { header: { ...base, name: a.path, type: 'symlink', mode: 0o777, linkname: a.target } };
      else if (a.kind === 'whiteout') {
        const slash = a.path.lastIndexOf('/');
        const name = slash < 0 ? `.wh.${a.path}` : `${a.path.slice(0, slash)}/.wh.${a.path.slice(slash + 1)}`;
        yield { header: { ...base, name, type: 'file', mode: 0o600 } };
      } else yield { header: { ...base, name: a.path, type: 'file', mode: a.mode, size: a.size }, body: seededBytes(a.size, a.seed) };
    }
  }
  return packEntries(entries());
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** `base` with the tar of `seed` applied, as the applier must leave it. */
export function applyModel(base: TreeModel, seed: number, scale = 1): TreeModel {
  const out = new Map(base);
  const drop = (path: string) => {
    for (const k of [...out.keys()]) if (k === path || k.startsWith(path + '/')) out.delete(k);
  };
  for (const a of tarActions(seed, scale)) {
    if (a.kind === 'whiteout') {
      drop(a.path);
      // the applier makes a whiteout's missing parent directory, as Docker's does
      const slash = a.path.lastIndexOf('/');
      if (slash > 0 && !out.has(a.path.slice(0, slash))) out.set(a.path.slice(0, slash), 'd:755');
    } else if (a.kind === 'dir') {
      if (out.get(a.path)?.startsWith('d:') !== true) drop(a.path);
      out.set(a.path, 'd:755');
    } else {
      drop(a.path);
      out.set(a.path, a.kind === 'symlink' ? `l:${a.target}` : `f:${a.mode.toString(8)}:${sha1(seededBytes(a.size, a.seed))}`);
    }
  }
  return out;
}

/** The real tree under `root` in the model's terms (lost+found of a filesystem root left out). */
export async function readTreeModel(root: string): Promise<TreeModel> {
  const out: TreeModel = new Map();
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      if (rel === '' && name === 'lost+found') continue;
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(r, `d:${mode}`);
        await walk(p, r);
      } else if (st.isSymbolicLink()) out.set(r, `l:${await readlink(p)}`);
      else if (st.isFile()) out.set(r, `f:${mode}:${sha1(await readFile(p))}`);
      else out.set(r, `other:${st.mode.toString(8)}`);
    }
  };
  await walk(root, '');
  return out;
}

/** First differences between two trees, for messages ("" when equal). */
export function diffModels(expected: TreeModel, actual: TreeModel, max = 5): string {
  const lines: string[] = [];
  for (const [k, v] of expected) if (actual.get(k) !== v) lines.push(`${k}: expected ${v}, got ${actual.get(k) ?? 'nothing'}`);
  for (const [k, v] of actual) if (!expected.has(k)) lines.push(`${k}: unexpected ${v}`);
  return lines.slice(0, max).join('; ') + (lines.length > max ? `; ... (${lines.length} differences)` : '');
}

export const sameModel = (a: TreeModel, b: TreeModel) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

// ---- the plan a child runs ------------------------------------------------------------

export type CrashOp =
  | { op: 'create' | 'createReadWrite'; id: string; parent: string | null }
  | { op: 'applyDiff'; id: string; seed: number }
  | { op: 'remove'; id: string }
  | { op: 'cleanup' }
  /** Keeps the driver (and the home lock) for a while: for the two-process tests. */
  | { op: 'hold'; ms: number };

/** What a child is told: where, with which driver, and which operations to run. */
export interface ChildConfig {
  /** Absolute path of a module exporting `init: InitFunc` (a driver package's built dist). */
  driverModule: string;
  /** Export of that module to call (default "init"). */
  initExport?: string;
  home: string;
  options: string[];
  journal: string;
  ops: CrashOp[];
  /** Size factor of the generated tars. */
  tarScale: number;
}
