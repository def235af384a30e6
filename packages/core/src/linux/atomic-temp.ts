// Temporary names of atomic writes: a file is written as `.tmp-<pid>-<random>` beside its
// final name and renamed into place, so a crash leaves either the old or the new file and
// perhaps a temporary, which the next init sweeps. The prefix lives here only.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * How every temporary of an atomic write is named: `.tmp-<pid>-<random>`. A store's own files
 * never start with it, so whatever does is a leftover {@link sweepTemps} may delete.
 */
export const TEMP_PREFIX = '.tmp-';

/** A fresh temporary name in `dir`. It does not grow with the final name, which may be near NAME_MAX. */
export function tempPathIn(dir: string): string {
  return join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** A fresh temporary name beside `path`, to be renamed onto it. */
export function tempPathFor(path: string): string {
  return tempPathIn(dirname(path));
}

/** True for a name made by tempPathFor (or any other atomic write of ours). */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** Deletes the leftover temporaries of interrupted atomic writes in `dir`; returns the names left. */
export async function sweepTemps(dir: string, names?: readonly string[]): Promise<string[]> {
  const all = names ?? (await readdir(dir));
  const kept: string[] = [];
  for (const name of all) {
    if (isTempName(name)) await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
    else kept.push(name);
  }
  return kept;
}
