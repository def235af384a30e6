// A seeded mutation fuzzer for the tar reader and the layer applier. Seeds: a valid tar of
// every entry kind, generated layer tars, and the hostile corpus. Each input is a seed after
// a few mutations (bit flips, byte sets, block splices, truncation, header field rewrites
// with the checksum made right again, PAX record edits); it is read by readTar and applied
// by applyLayer into a fresh directory beside a sentinel. Whatever the input:
//   - only success or a GraphDriverError ERR_INVALID_ARCHIVE / ERR_UNSAFE_ENTRY /
//     ERR_UNSUPPORTED_ENTRY (nothing untyped, no other code);
//   - nothing outside the destination changes (the sentinel, the directory holding both);
//   - no link in the destination leads out of it (Docker's rule, linkLeavesRoot), and a
//     refused input leaves the destination empty (rolled back);
//   - it ends within a time bound (a hang is a failure) and the process stays under a
//     memory bound.
// Exported as @graphdriver/core/fuzz (no vitest): tools/fuzz runs it from the command line,
// diff/fuzz.test.ts for a bounded number of iterations in CI.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyLayer } from '../diff/apply.js';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { readTar } from '../tar/reader.js';
import { layerTar, pick, randInt, readTreeModel, rng, sameModel, diffModels, type TreeModel } from './crash-model.js';
import { everyKindTar, fixChecksum, hostileTars, paxRecord } from './hostile-tars.js';
import { linksLeadingOut } from './link-audit.js';

/** The only error codes a fuzzed input may fail with; anything else (or an untyped error) is a failure. */
export const FUZZ_ALLOWED_CODES: readonly string[] = [ErrorCode.InvalidArchive, ErrorCode.UnsafeEntry, ErrorCode.Unsupported];

/** How long and where {@link runFuzz} runs. */
export interface FuzzOptions {
  /** Seeds the mutations: the same seed and iteration replay the same input. */
  seed: number;
  /** Stop after this many inputs... */
  iterations?: number;
  /** ...or after this many seconds, whichever comes first (at least one must be given). */
  seconds?: number;
  /** An input that takes longer is a hang (default 20 s). */
  perInputTimeoutMs?: number;
  /** Most the process may grow over the run (default 512 MiB). */
  memoryBound?: number;
  /** Where failing inputs are saved (<seed>-<iteration>.tar and .txt); none when unset. */
  crashersDir?: string;
  /** Progress lines (failures as found, and a summary); silent when unset. */
  log?: (line: string) => void;
}

/** One input that broke a rule. */
export interface FuzzFailure {
  /** Which input of the run (with the report's seed, replays it). */
  iteration: number;
  /** The seed tar's name and the mutations made to it, in order. */
  mutations: string[];
  /** The rule broken: untyped error, wrong code, escape, leftover, hang, memory. */
  why: string;
  /** Path of the saved input, when `crashersDir` was given. */
  saved?: string;
}

/** What a {@link runFuzz} run did; `failures` empty means every input kept every rule. */
export interface FuzzReport {
  /** The seed of the run. */
  seed: number;
  /** Inputs tried. */
  iterations: number;
  /** Inputs applied without error / refused with each code. */
  outcomes: Record<string, number>;
  /** How many seed tars the mutations started from. */
  seeds: number;
  /** Peak RSS growth over the run, in bytes. */
  peakRssGrowth: number;
  /** Every input that broke a rule. */
  failures: FuzzFailure[];
  /** Wall time of the run. */
  durationMs: number;
}

// ---- seeds ---------------------------------------------------------------------------------

async function collect(chunks: Iterable<Buffer> | AsyncIterable<Buffer>, max = 4 << 20): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of chunks) {
    parts.push(c);
    n += c.length;
    if (n > max) return undefined;
  }
  return Buffer.concat(parts);
}

export async function fuzzSeeds(): Promise<Array<{ name: string; tar: Buffer }>> {
  const out = [{ name: 'every-kind', tar: everyKindTar() }];
  for (const s of [1, 2, 3]) {
    const t = await collect(layerTar(s, 0.03) as AsyncIterable<Buffer>);
    if (t) out.push({ name: `layer-${s}`, tar: t });
  }
  for (const h of hostileTars()) {
    if (h.heavy) continue;
    const t = await collect(h.chunks(), 256 << 10);
    if (t) out.push({ name: `hostile:${h.name}`, tar: t });
  }
  return out;
}

// ---- mutations -----------------------------------------------------------------------------

/** Offsets of what look like header blocks, walking sizes as a reader would (best effort). */
function headerOffsets(t: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= t.length && out.length < 10_000; ) {
    const block = t.subarray(off, off + 512);
    if (block.every((b) => b === 0)) break;
    out.push(off);
    const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    const data = Number.isFinite(size) && size > 0 && !'1234567'.includes(String.fromCharCode(block[156]) || '-') ? size : 0;
    off += 512 + Math.ceil(data / 512) * 512;
  }
  return out;
}

const FIELDS: Array<[string, number, number]> = [
  ['name', 0, 100],
  ['mode', 100, 8],
  ['uid', 108, 8],
  ['gid', 116, 8],
  ['size', 124, 12],
  ['mtime', 136, 12],
  ['typeflag', 156, 1],
  ['linkname', 157, 100],
  ['magic', 257, 8],
  ['devmajor', 329, 8],
  ['devminor', 337, 8],
  ['prefix', 345, 155],
];

const NAMES = [
  '../x',
  '/etc/passwd',
  'a/../../b',
  '.',
  '..',
  '',
  'a'.repeat(100),
  'd/../../../../etc',
  '.wh..wh..opq',
  '.wh.',
  'a/.wh.b',
  '.wh..wh.plnk/x',
  'x\0y',
  'ünï',
];
const NUMBERS = ['0', '7777777', '77777777777', '99999999', '-1', ' ', '\0', '00000000001', '1777777777777'];
const TYPES = '01234567xgLKSVMN\0Z';
const PAX_KEYS = [
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'mtime',
  'uname',
  'SCHILY.xattr.user.a',
  'SCHILY.xattr.security.capability',
  'GNU.sparse.size',
  'comment',
  '',
];

type Mutator = (t: Buffer, r: () => number, seeds: Buffer[]) => [Buffer, string];

const mutators: Mutator[] = [
  function bitFlips(t, r) {
    const b = Buffer.from(t);
    const n = randInt(r, 1, 8);
    for (let i = 0; i < n && b.length; i++) b[Math.floor(r() * b.length)] ^= 1 << randInt(r, 0, 7);
    return [b, `flip ${n} bits`];
  },
  function byteSets(t, r) {
    const b = Buffer.from(t);
    const n = randInt(r, 1, 6);
    for (let i = 0; i < n && b.length; i++)
      b[Math.floor(r() * b.length)] = pick(r, [0, 0xff, 0x7f, 0x80, 0x2f, 0x2e, 0x30, 0x37, 0x20, 0x0a]);
    return [b, `set ${n} bytes`];
  },
  function blockSplice(t, r, seeds) {
    const other = pick(r, seeds);
    const blocks = Math.max(1, Math.floor(t.length / 512));
    const from = Math.floor(r() * Math.max(1, Math.floor(other.length / 512))) * 512;
    const len = randInt(r, 1, 4) * 512;
    const at = Math.floor(r() * blocks) * 512;
    const b = Buffer.concat([t.subarray(0, at), other.subarray(from, from + len), t.subarray(r() < 0.5 ? at : at + len)]);
    return [b, `splice ${len} bytes at ${at}`];
  },
  function truncate(t, r) {
    const at = r() < 0.5 ? Math.floor(r() * t.length) : Math.floor((r() * t.length) / 512) * 512;
    return [t.subarray(0, at), `truncate at ${at}`];
  },
  function headerField(t, r) {
    const offs = headerOffsets(t);
    if (!offs.length) return [t, 'no header'];
    const off = pick(r, offs);
    const [field, start, len] = pick(r, FIELDS);
    const b = Buffer.from(t);
    let value: string;
    if (field === 'typeflag') value = TYPES[Math.floor(r() * TYPES.length)];
    else if (field === 'name' || field === 'linkname' || field === 'prefix') value = pick(r, NAMES);
    else if (field === 'magic') value = pick(r, ['ustar\0' + '00', 'ustar  \0', '\0\0\0\0\0\0\0\0', 'garbage!']);
    else value = pick(r, NUMBERS).padStart(len - 1, r() < 0.5 ? '0' : ' ') + '\0';
    b.fill(0, off + start, off + start + len);
    Buffer.from(value, 'latin1').copy(b, off + start, 0, len);
    if (field === 'size' && r() < 0.3) b[off + start] = 0x80; // base-256
    if (r() < 0.9) fixChecksum(b.subarray(off, off + 512));
    return [b, `header ${field}@${off} = ${JSON.stringify(value)}`];
  },
  function paxEdit(t, r) {
    const offs = headerOffsets(t).filter((o) => t[o + 156] === 0x78 || t[o + 156] === 0x67);
    const key = pick(r, PAX_KEYS);
    const value = pick(r, [...NAMES, ...NUMBERS, 'x'.repeat(randInt(r, 0, 3000))]);
    let rec = paxRecord(key, value);
    if (r() < 0.3) rec = Buffer.concat([Buffer.from(String(randInt(r, 0, 99999))), rec.subarray(rec.indexOf(0x20))]); // lying length
    const hdr = Buffer.alloc(512);
    if (!offs.length || r() < 0.3) {
      // a new PAX header in front of a random entry
      const at = pick(r, [0, ...headerOffsets(t)]);
      Buffer.from('PaxHeaders.0/fuzz', 'latin1').copy(hdr, 0);
      Buffer.from('0000644\0', 'latin1').copy(hdr, 100);
      Buffer.from(`${rec.length.toString(8).padStart(11, '0')}\0`, 'latin1').copy(hdr, 124);
      hdr[156] = 0x78;
      Buffer.from('ustar\x0000', 'latin1').copy(hdr, 257);
      fixChecksum(hdr);
      const body = Buffer.concat([rec, Buffer.alloc((512 - (rec.length % 512)) % 512)]);
      return [Buffer.concat([t.subarray(0, at), hdr, body, t.subarray(at)]), `new PAX ${key}=${value.slice(0, 40)} at ${at}`];
    }
    // replace an existing PAX header's records
    const off = pick(r, offs);
    const oldSize = parseInt(t.subarray(off + 124, off + 136).toString('latin1'), 8) || 0;
    const oldEnd = off + 512 + Math.ceil(oldSize / 512) * 512;
    t.copy(hdr, 0, off, off + 512);
    hdr.fill(0, 124, 136);
    Buffer.from(`${rec.length.toString(8).padStart(11, '0')}\0`, 'latin1').copy(hdr, 124);
    fixChecksum(hdr);
    const body = Buffer.concat([rec, Buffer.alloc((512 - (rec.length % 512)) % 512)]);
    return [Buffer.concat([t.subarray(0, off), hdr, body, t.subarray(oldEnd)]), `PAX@${off} := ${key}=${value.slice(0, 40)}`];
  },
];

// ---- running one input ---------------------------------------------------------------------

async function* chunked(b: Buffer, r: () => number): AsyncGenerator<Buffer> {
  // odd chunk sizes: the reader must not depend on block-aligned chunks
  for (let off = 0; off < b.length; ) {
    const n = Math.max(1, Math.floor(r() * 9000));
    yield b.subarray(off, off + n);
    off += n;
  }
}

const execFileP = promisify(execFile);

/** rm -rf that copes with trees deeper than PATH_MAX (GNU rm walks with openat). */
async function removeAll(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await execFileP('rm', ['-rf', '--one-file-system', path]);
  }
}

function outcomeOf(err: unknown): string {
  if (isGraphDriverError(err)) return err.code;
  return `untyped ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HangError(`${what}: no end after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

class HangError extends Error {}

/** Reads every entry and body; returns "ok" or the error's code. */
async function readAll(input: Buffer, r: () => number): Promise<string> {
  try {
    for await (const e of readTar(chunked(input, r))) {
      if (r() < 0.7) for await (const _ of e.body) void _; // or leave the body to be skipped
    }
    return 'ok';
  } catch (err) {
    return outcomeOf(err);
  }
}

/**
 * Fuzzes the tar reader and the layer applier: seed tars (every entry kind, generated layers,
 * the hostile corpus) are mutated and each is read and applied into a fresh directory. Every
 * input must succeed or fail with ERR_INVALID_ARCHIVE, ERR_UNSAFE_ENTRY or ERR_UNSUPPORTED_ENTRY, change nothing outside its
 * destination, leave no link leading out, be rolled back when refused, and end within the time
 * and memory bounds. Failures are reported, not thrown. Plain Node (no vitest).
 */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  if (opts.iterations === undefined && opts.seconds === undefined) throw new Error('runFuzz: give iterations or seconds');
  const started = Date.now();
  const deadline = opts.seconds !== undefined ? started + opts.seconds * 1000 : Infinity;
  const maxIterations = opts.iterations ?? Infinity;
  const timeoutMs = opts.perInputTimeoutMs ?? 20_000;
  const memoryBound = opts.memoryBound ?? 512 << 20;
  const log = opts.log ?? (() => {});
  const seeds = await fuzzSeeds();
  const seedTars = seeds.map((s) => s.tar);
  const report: FuzzReport = {
    seed: opts.seed,
    iterations: 0,
    outcomes: {},
    seeds: seeds.length,
    peakRssGrowth: 0,
    failures: [],
    durationMs: 0,
  };

  const work = await mkdtemp(join(tmpdir(), 'gd-fuzz-'));
  // The sentinel: work/<i>/sentinel beside work/<i>/dest, with a symlink pointing out.
  const sentinel = join(work, 'sentinel');
  await mkdir(join(sentinel, 'etc'), { recursive: true });
  await writeFile(join(sentinel, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(sentinel, 'secret'), 'secret\n');
  await symlink('secret', join(sentinel, 'link'));
  const sentinelTree: TreeModel = await readTreeModel(sentinel);
  const rssBase = process.memoryUsage.rss();

  const fail = async (iteration: number, mutations: string[], why: string, input: Buffer) => {
    const f: FuzzFailure = { iteration, mutations, why };
    if (opts.crashersDir) {
      await mkdir(opts.crashersDir, { recursive: true });
      const base = join(opts.crashersDir, `${opts.seed}-${iteration}`);
      await writeFile(`${base}.tar`, input);
      await writeFile(`${base}.txt`, `seed ${opts.seed}, iteration ${iteration}\nmutations: ${mutations.join('; ')}\n${why}\n`);
      f.saved = `${base}.tar`;
    }
    report.failures.push(f);
    log(`FAIL #${iteration}: ${why} (${mutations.join('; ')})`);
  };

  try {
    for (let i = 0; i < maxIterations && Date.now() < deadline; i++) {
      const r = rng((opts.seed * 2_654_435_761 + i) >>> 0);
      const seed = pick(r, seeds);
      let input = seed.tar;
      const mutations = [`seed ${seed.name}`];
      const rounds = r() < 0.1 ? 0 : randInt(r, 1, 4);
      for (let k = 0; k < rounds; k++) {
        const [next, what] = pick(r, mutators)(input, r, seedTars);
        input = next;
        mutations.push(what);
      }
      report.iterations++;

      const readOutcome = await withTimeout(readAll(input, r), timeoutMs, 'readTar').catch((err: unknown) =>
        err instanceof HangError ? `hang: ${err.message}` : outcomeOf(err),
      );
      if (readOutcome !== 'ok' && readOutcome !== ErrorCode.InvalidArchive && readOutcome !== ErrorCode.Unsupported) {
        await fail(i, mutations, `readTar: ${readOutcome}`, input);
        if (readOutcome.startsWith('hang')) break;
        continue;
      }

      const dir = join(work, `i${i}`);
      const dest = join(dir, 'dest');
      await mkdir(dest, { recursive: true });
      let outcome: string;
      try {
        await withTimeout(applyLayer(dest, chunked(input, r)), timeoutMs, 'applyLayer');
        outcome = 'ok';
      } catch (err) {
        outcome = err instanceof HangError ? `hang: ${err.message}` : outcomeOf(err);
      }
      const key = outcome.startsWith('untyped') ? 'untyped' : outcome.startsWith('hang') ? 'hang' : outcome;
      report.outcomes[key] = (report.outcomes[key] ?? 0) + 1;
      if (outcome !== 'ok' && !FUZZ_ALLOWED_CODES.includes(outcome)) await fail(i, mutations, `applyLayer: ${outcome}`, input);
      if (outcome.startsWith('hang')) break; // it still runs: further results would be noise

      // no link leads out of the layer; a refused input left nothing behind
      const out = linksLeadingOut(dest);
      if (out.length) await fail(i, mutations, `links leading out of the layer: ${out.slice(0, 5).join(', ')}`, input);
      if (outcome !== 'ok') {
        const left = await readdir(dest);
        if (left.length) await fail(i, mutations, `refused (${outcome}) but left ${left.slice(0, 5).join(', ')} in the layer`, input);
      }

      // nothing outside dest: the directory holds only dest, the sentinel is as it was
      const beside = (await readdir(dir)).filter((n) => n !== 'dest');
      if (beside.length) await fail(i, mutations, `written beside dest: ${beside.join(', ')}`, input);
      const top = (await readdir(work)).filter((n) => n !== 'sentinel' && n !== `i${i}`);
      if (top.length) await fail(i, mutations, `written in the fuzz directory: ${top.join(', ')}`, input);
      const now = await readTreeModel(sentinel);
      if (!sameModel(sentinelTree, now)) {
        await fail(i, mutations, `sentinel changed: ${diffModels(sentinelTree, now)}`, input);
        break;
      }
      await removeAll(dir);

      const growth = process.memoryUsage.rss() - rssBase;
      report.peakRssGrowth = Math.max(report.peakRssGrowth, growth);
      if (growth > memoryBound) {
        await fail(i, mutations, `process grew by ${growth} bytes (bound ${memoryBound})`, input);
        break;
      }
      if (i % 1000 === 999) log(`${i + 1} inputs, ${report.failures.length} failures`);
    }
  } finally {
    await removeAll(work);
  }
  report.durationMs = Date.now() - started;
  log(
    `fuzz seed ${opts.seed}: ${report.iterations} inputs in ${(report.durationMs / 1000).toFixed(1)} s, outcomes ${JSON.stringify(report.outcomes)}, ${report.failures.length} failures`,
  );
  return report;
}
