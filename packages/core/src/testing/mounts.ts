// What is mounted under a directory: the default "nothing is left mounted" check of the
// conformance suite, over core's one mount table reader.
import { resolve } from 'node:path';
import { mountsUnder as mountsUnderIn, readMountInfo } from '../linux/mountinfo.js';

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  return mountsUnderIn(await readMountInfo(), resolve(dir)).map((m) => m.mountpoint);
}

/** Throws naming what is still mounted under `home`. */
export async function assertNothingMountedUnder(home: string): Promise<void> {
  const left = await mountsUnder(home);
  if (left.length) throw new Error(`still mounted under ${home}: ${left.join(', ')}`);
}
