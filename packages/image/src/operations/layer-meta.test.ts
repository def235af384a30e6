// The per-layer records on a real directory: written atomically (core's temp names), read
// back checked, and what an interrupted write left is swept by the next import's sweep.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempPathIn } from '@graphdriver/core/linux';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLayerRecord, sweepLayerRecordTemps, writeLayerRecord } from './layer-meta.js';

const ID = 'a'.repeat(64);
const record = {
  digest: `sha256:${'b'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  size: 42,
  diffId: `sha256:${'c'.repeat(64)}`,
};

describe('layer records', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gd-layer-meta-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a record with its origin; a malformed one reads as none', async () => {
    await writeLayerRecord(dir, ID, { ...record, origin: { registry: 'r.example:5000', repository: 'a/b' } });
    expect(await readLayerRecord(dir, ID)).toEqual({ ...record, origin: { registry: 'r.example:5000', repository: 'a/b' } });
    await writeFile(join(dir, 'layers', `${'d'.repeat(64)}.json`), JSON.stringify({ ...record, digest: 'md5:x' }));
    expect(await readLayerRecord(dir, 'd'.repeat(64))).toBeUndefined();
  });

  it('the sweep removes the temporaries of interrupted writes and keeps the records; no layers dir is fine', async () => {
    await sweepLayerRecordTemps(dir); // nothing yet
    await writeLayerRecord(dir, ID, record);
    const leftover = tempPathIn(join(dir, 'layers'));
    await writeFile(leftover, '{"half');
    expect(await readdir(join(dir, 'layers'))).toHaveLength(2);
    await sweepLayerRecordTemps(dir);
    expect(await readdir(join(dir, 'layers'))).toEqual([`${ID}.json`]);
    expect(await readLayerRecord(dir, ID)).toEqual(record);
  });
});
