import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerIndex, type LayerRecord } from './layer-index.js';
import { KeyedMutex } from '../linux/keyed-mutex.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'gd-index-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const rec = (id: string, parent: string | null = null): LayerRecord => ({
  id,
  parent,
  rw: false,
  state: 'complete',
  created: new Date(0).toISOString(),
  mounts: 0,
});

describe('LayerIndex', () => {
  it('persists records, parents and updates across reopen', async () => {
    const a = await LayerIndex.open(home);
    await a.save(rec('base'));
    await a.save(rec('child', 'base'));
    await a.update('child', { mounts: 2 });
    const b = await LayerIndex.open(home);
    expect(b.get('child')).toMatchObject({ parent: 'base', mounts: 2 });
    expect(b.children('base')).toEqual(['child']);
    await b.delete('child');
    expect((await LayerIndex.open(home)).get('child')).toBeUndefined();
  });

  it('stores ids up to 255 bytes (hashing names that would pass NAME_MAX)', async () => {
    const long = 'x'.repeat(255);
    const a = await LayerIndex.open(home);
    await a.save(rec(long));
    expect((await LayerIndex.open(home)).get(long)?.id).toBe(long);
  });

  it('drops temporary files and unreadable records of an interrupted write', async () => {
    const a = await LayerIndex.open(home);
    await a.save(rec('ok'));
    await writeFile(join(home, 'layers', '.tmp-123-abc'), '{"id":"half');
    await writeFile(join(home, 'layers', 'torn.json'), '{"id":"torn"');
    const b = await LayerIndex.open(home);
    expect(b.all().map((r) => r.id)).toEqual(['ok']);
    expect((await readdir(join(home, 'layers'))).sort()).toEqual(['ok.json']);
  });
});

describe('KeyedMutex', () => {
  it('serialises one key and lets distinct keys run together', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const step = (tag: string, ms: number) => async () => {
      log.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${tag}-`);
    };
    await Promise.all([m.with(['a'], step('a1', 20)), m.with(['a'], step('a2', 1)), m.with(['b'], step('b', 1))]);
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b+')).toBeLessThan(log.indexOf('a1-'));
  });
  it('takes several keys without deadlock whatever the order', async () => {
    const m = new KeyedMutex();
    let n = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        m.with(i % 2 ? ['x', 'y'] : ['y', 'x'], async () => {
          n++;
        }),
      ),
    );
    expect(n).toBe(20);
  });
});
