// rm -rf without recursion: Node's fs.rmSync recurses once per directory level and
// overflows the stack on a tree a few thousand levels deep, which a hostile archive can
// make (and a rollback must then remove). Symlinks are removed, never followed.
import * as fs from 'node:fs';
import { errnoCode } from '../errors.js';

/**
 * Removes whatever is at `abs` (a file, a symlink, a whole directory tree); false when
 * nothing was there.
 */
export function removeTreeSync(abs: string): boolean {
  try {
    fs.unlinkSync(abs);
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return false;
    if (code !== 'EISDIR' && code !== 'EPERM') throw err;
  }
  // Depth first, one directory at a time: a directory is removed once a pass finds no
  // subdirectory left in it.
  const stack = [abs];
  while (stack.length > 0) {
    const dir = stack[stack.length - 1];
    let descended = false;
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${ent.name}`;
      if (ent.isDirectory()) {
        stack.push(p);
        descended = true;
      } else {
        fs.unlinkSync(p);
      }
    }
    if (!descended) {
      fs.rmdirSync(dir);
      stack.pop();
    }
  }
  return true;
}
