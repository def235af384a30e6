// Setting a path's times to the nanosecond. Node's utimes takes seconds as a double, which
// near today's dates keeps about a quarter of a microsecond: whole-second times (what tar
// headers carry) survive, a filesystem's own nanoseconds do not. GNU touch sets them exactly.
import * as fs from 'node:fs';
import { tool } from '../exec.js';

const touch = tool('touch', { env: { LC_ALL: 'C', TZ: 'UTC' }, timeout: 30_000 });

const NS = 1_000_000_000n;

/** `@SEC.NSEC` for GNU touch -d, which reads it as one signed decimal ("@-1.5" is 1.5 s before the epoch). */
function touchStamp(ns: bigint): string {
  const abs = ns < 0n ? -ns : ns;
  return `@${ns < 0n ? '-' : ''}${abs / NS}.${(abs % NS).toString().padStart(9, '0')}`;
}

/**
 * Sets mtime (and atime, default: the same) to exact nanoseconds without following a
 * symlink, through GNU touch (two runs).
 */
export async function setTimesNs(path: string, mtimeNs: bigint, atimeNs: bigint = mtimeNs): Promise<void> {
  await touch.run(['-h', '-m', '-d', touchStamp(mtimeNs), '--', path]);
  await touch.run(['-h', '-a', '-d', touchStamp(atimeNs), '--', path]);
}

/**
 * Puts back times read earlier with lstat({ bigint: true }) through lutimes, and the mtime
 * (what diffs compare) through one GNU touch run when the double did not carry it exactly.
 * The atime keeps lutimes' precision (about a microsecond).
 */
export async function restoreTimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): Promise<void> {
  fs.lutimesSync(path, Number(atimeNs) / 1e9, Number(mtimeNs) / 1e9);
  if (fs.lstatSync(path, { bigint: true }).mtimeNs !== mtimeNs) {
    await touch.run(['-h', '-m', '-d', touchStamp(mtimeNs), '--', path]);
  }
}
