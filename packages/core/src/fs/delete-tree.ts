// Deleting a layer's tree (vfs, overlay) with GNU rm, which walks with openat and so deletes trees deeper
// than PATH_MAX (fs.rm addresses every entry by its full path and fails ENAMETOOLONG).
// --one-file-system: a mount inside a layer is never descended into. Unprivileged, a
// read-only directory in the layer (a 0555 dir from an image) keeps its entries: open such
// directories up first (chmod -R walks the same way).
import { tool } from '../exec.js';

const env = { LC_ALL: 'C', LANG: 'C' };
const rm = tool('rm', { env });
const chmod = tool('chmod', { env });

/**
 * Removes `path` and everything under it, however deep, staying on its filesystem (a mount
 * inside is not entered). Unprivileged, directories the owner cannot write are opened up
 * first. A missing `path` is not an error.
 *
 * @throws ToolError ERR_TOOL_FAILED when `rm` cannot remove something.
 */
export async function deleteTree(path: string): Promise<void> {
  try {
    await rm.run(['-rf', '--one-file-system', '--', path]);
    return;
  } catch (err) {
    if (process.getuid?.() === 0) throw err;
  }
  await chmod.run(['-R', 'u+rwX', '--', path]).catch(() => {});
  await rm.run(['-rf', '--one-file-system', '--', path]);
}
