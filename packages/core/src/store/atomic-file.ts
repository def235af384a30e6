// Small files written so that a crash leaves either the old or the new content, never half.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from '../linux/atomic-temp.js';
import { faultPoint } from './fault-points.js';

/**
 * Replaces the file at `path` with `data` so that a crash or power loss leaves either the old
 * or the new content, never a mix: written and synced to a temporary beside it
 * (`tempPathFor`), renamed over `path`, then the directory synced. The directory must
 * exist. A temporary a crash leaves behind is swept by `sweepTemps` (`@graphdriver/core/linux`).
 *
 * @param mode - permission bits of a new file (0600: records are private by default).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  faultPoint('atomic:written');
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename is only durable once the directory is: a power loss must not undo it.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
