// Small files written so that a crash leaves either the old or the new content, never half.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from '../linux/atomic-temp.js';
import { faultPoint } from './fault-points.js';

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
