// The nearest path at or above `path` that exists: what a driver's init probes (filesystem
// type, mount) before the home it is given has been made.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await stat(p);
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw err;
    }
  }
}
