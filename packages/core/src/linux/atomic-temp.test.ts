import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isTempName, sweepTemps, tempPathFor } from './atomic-temp.js';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('atomic temporaries', () => {
  it('are named beside their target and swept, leaving everything else', async () => {
    dir = await mkdtemp(join(tmpdir(), 'gd-atomic-temp-'));
    const tmp = tempPathFor(join(dir, 'record.json'));
    expect(dirname(tmp)).toBe(dir);
    expect(isTempName(basename(tmp))).toBe(true);
    await writeFile(tmp, 'half');
    await writeFile(join(dir, 'record.json'), 'whole');
    expect(await sweepTemps(dir)).toEqual(['record.json']);
    expect(await readdir(dir)).toEqual(['record.json']);
  });
});
