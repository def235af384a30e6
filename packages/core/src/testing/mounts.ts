// What is mounted under a directory, from /proc/self/mountinfo: the default "nothing is
// left mounted" check of the conformance suite.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points at or below `dir`, in mount order. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    const mp = unescapeMountPath(fields[4]);
    if (mp === root || mp.startsWith(root + '/')) out.push(mp);
  }
  return out;
}

/** Throws naming what is still mounted under `home`. */
export async function assertNothingMountedUnder(home: string): Promise<void> {
  const left = await mountsUnder(home);
  if (left.length) throw new Error(`still mounted under ${home}: ${left.join(', ')}`);
}
