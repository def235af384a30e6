// The per-home layer index every driver shares: one small JSON record (driver.ts's
// LayerRecord) per layer under `home/layers/`. Records are written atomically, so after a
// crash each one is either the old or the new state (driver.ts, "Failure and recovery").
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from './atomic-file.js';
import { isTempName } from '../linux/atomic-temp.js';
import { asStorageError } from '../errors.js';
import { makeDirs } from '../fs/make-dirs.js';
import type { LayerRecord } from '../driver.js';

export type { LayerRecord, LayerState } from '../driver.js';

const SUFFIX = '.json';

/** File name of a record: the id itself, or its hash when id + suffix would pass NAME_MAX. */
function recordName(id: string): string {
  return Buffer.byteLength(id) + SUFFIX.length <= 255 ? id + SUFFIX : `sha256-${createHash('sha256').update(id).digest('hex')}${SUFFIX}`;
}

export class LayerIndex {
  private readonly records = new Map<string, LayerRecord>();
  private constructor(readonly dir: string) {}

  static async open(home: string): Promise<LayerIndex> {
    const index = new LayerIndex(join(home, 'layers'));
    await makeDirs(index.dir, 0o700);
    for (const name of await readdir(index.dir)) {
      const path = join(index.dir, name);
      if (!name.endsWith(SUFFIX)) {
        // a temporary file of an interrupted write
        if (isTempName(name)) await unlink(path).catch(() => {});
        continue;
      }
      try {
        const rec = JSON.parse(await readFile(path, 'utf8')) as LayerRecord;
        if (rec && typeof rec.id === 'string' && recordName(rec.id) === name) index.records.set(rec.id, rec);
      } catch {
        // unreadable record: cannot happen with atomic writes; drop it so the layer is swept
        await unlink(path).catch(() => {});
      }
    }
    return index;
  }

  get(id: string): LayerRecord | undefined {
    return this.records.get(id);
  }

  all(): LayerRecord[] {
    return [...this.records.values()];
  }

  children(id: string): string[] {
    return this.all().filter((r) => r.parent === id).map((r) => r.id);
  }

  async save(rec: LayerRecord): Promise<void> {
    try {
      await writeFileAtomic(join(this.dir, recordName(rec.id)), JSON.stringify(rec));
    } catch (err) {
      // a full disk is ERR_NO_SPACE here too: the record lives beside the layers
      throw asStorageError(err, `layer index: writing the record of ${rec.id}`);
    }
    this.records.set(rec.id, { ...rec });
  }

  async update(id: string, patch: Partial<LayerRecord>): Promise<LayerRecord> {
    const rec = this.records.get(id);
    if (!rec) throw new Error(`layer index: no record for ${id}`);
    const next = { ...rec, ...patch };
    await this.save(next);
    return next;
  }

  async delete(id: string): Promise<void> {
    await unlink(join(this.dir, recordName(id))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.records.delete(id);
  }
}
