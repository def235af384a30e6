// Reads a vfs store's own files, as a test looking behind the CLI's back: the layer records
// (home/layers/*.json), the layer directories, and temporary names anywhere under a path.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerRecord } from '@graphdriver/core';

/** Every layer record of the vfs store under `root`, by id. */
export async function vfsRecords(root: string): Promise<Map<string, LayerRecord>> {
  const dir = join(root, 'vfs', 'layers');
  const out = new Map<string, LayerRecord>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const rec = JSON.parse(await readFile(join(dir, name), 'utf8')) as LayerRecord;
    out.set(rec.id, rec);
  }
  return out;
}

/** Names under `dir` (recursively) that look temporary: `.tmp-…`, `….tmp`. */
export async function temporaries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => /(^|\/)\.tmp-|\.tmp$/.test(e));
}
