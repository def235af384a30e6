// Small helpers shared by the diff walkers (changes, size, export). Internal to core.
import { lstatSync } from 'node:fs';
import { ErrorCode, GraphDriverError } from '../errors.js';
import type { FileStat } from '../fs/lstat.js';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

/**
 * Orders strings by their UTF-8 bytes (Go's `a < b` on strings, which Docker sorts with),
 * not by UTF-16 code units as JavaScript's `<` does. The two only disagree when one side
 * holds a surrogate (a character above U+FFFF) and the other a character in
 * U+E000..U+FFFF; the remapping below turns code-unit order into code-point order,
 * which is UTF-8 byte order.
 */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

/** Characters where UTF-16 order and UTF-8 byte order can disagree (surrogates and U+E000..). */
const NEEDS_BYTEWISE = /[\ud800-\uffff]/;

/**
 * Sorts strings in place by UTF-8 bytes. JavaScript's own sort (native, no comparator
 * calls) already gives that order unless a string holds a character from U+D800 up, which
 * one regex scan per string rules out in the common case.
 */
export function sortBytewise(strings: string[]): string[] {
  for (const s of strings) {
    if (NEEDS_BYTEWISE.test(s)) return strings.sort(compareBytewise);
  }
  return strings.sort();
}

/** Sorts objects in place by their `path`, by UTF-8 bytes (see sortBytewise). */
export function sortByPath<T extends { path: string }>(items: T[]): T[] {
  for (const it of items) {
    if (NEEDS_BYTEWISE.test(it.path)) return items.sort((a, b) => compareBytewise(a.path, b.path));
  }
  return items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Docker's sameFsTimeSpec: equal, or the same second with either side at 0 ns (a time
 * that went through a tar header, which only keeps whole seconds).
 */
export function sameFsTimeNs(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const NS = 1_000_000_000n;
  let sa = a / NS;
  let na = a % NS;
  if (na < 0n) {
    sa -= 1n;
    na += NS;
  }
  let sb = b / NS;
  let nb = b % NS;
  if (nb < 0n) {
    sb -= 1n;
    nb += NS;
  }
  return sa === sb && (na === 0n || nb === 0n);
}

/** Whole seconds of a nanosecond timestamp, rounded down (Go's Time.Truncate(time.Second)). */
export function floorSeconds(ns: bigint): number {
  const NS = 1_000_000_000n;
  if (ns >= 0n) return Number(ns / NS);
  let s = ns / NS; // BigInt division truncates toward zero: one less for the floor
  if (s * NS !== ns) s -= 1n;
  return Number(s);
}

/** Linux major/minor of a dev_t, as golang.org/x/sys/unix Major/Minor. */
export function devMajor(rdev: bigint): number {
  return Number(((rdev & 0xfff00n) >> 8n) | ((rdev >> 32n) & 0xfffff000n));
}
export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
}

/** The lstat fields statDifferent compares. */
export type ComparedStat = Pick<FileStat, 'mode' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeNs'>;

/** Docker's statDifferent (changes_unix.go), including its bitwise S_IFDIR test. */
export function statDifferent(o: ComparedStat, n: ComparedStat): boolean {
  if (o.mode !== n.mode || o.uid !== n.uid || o.gid !== n.gid || o.rdev !== n.rdev) return true;
  // Docker tests `mode & S_IFDIR != S_IFDIR`, so block devices and sockets (whose type bits
  // include S_IFDIR's) are compared like directories: size and mtime are not looked at.
  if ((Number(o.mode) & S_IFDIR) !== S_IFDIR) {
    if (o.size !== n.size || !sameFsTimeNs(o.mtimeNs, n.mtimeNs)) return true;
  }
  return false;
}

/** Resolves on the next turn of the event loop, so that long synchronous walks share it. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Calls yieldToLoop only when `budgetMs` of synchronous work has passed since the last call. */
export class Yielder {
  private last = performance.now();
  constructor(private readonly budgetMs = 20) {}
  /** True when the caller should `await yieldToLoop()` now. */
  due(): boolean {
    const now = performance.now();
    if (now - this.last < this.budgetMs) return false;
    this.last = now;
    return true;
  }
  reset(): void {
    this.last = performance.now();
  }
}

/**
 * Node decodes file names as UTF-8, replacing invalid bytes with U+FFFD, and our paths and
 * tar names are strings: such a name cannot be reached or archived. Fail loudly rather
 * than silently leave the file out. (Names that really contain U+FFFD pass.)
 */
export function assertNamesDecodable(dir: string, names: readonly string[]): void {
  for (const name of names) {
    if (!name.includes('\ufffd')) continue;
    if (lstatSync(`${dir}/${name}`, { throwIfNoEntry: false }) === undefined) {
      throw new GraphDriverError(
        ErrorCode.Unsupported,
        `file name in ${dir} is not valid UTF-8 (read as ${JSON.stringify(name)}): not supported`,
      );
    }
  }
}
