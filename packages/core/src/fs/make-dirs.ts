// mkdir -p that always ends. Node's own `mkdir(path, { recursive: true })` loops forever when
// the kernel answers ENOENT for a child of a directory that exists (procfs, sysfs:
// `--root /proc/foo` hung the CLI), so homes and other paths a user names go through here.
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Makes `path` and any missing parents with `mode`; resolves if it is already a directory. */
export async function makeDirs(path: string, mode = 0o777): Promise<void> {
  try {
    await mkdir(path, { mode });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await isDirectory(path))) return;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    await makeDirs(parent, mode);
  }
  // The parents exist now; a second ENOENT here is the kernel's final word, not a race.
  try {
    await mkdir(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await isDirectory(path))) return;
    throw err;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path)).isDirectory();
}
