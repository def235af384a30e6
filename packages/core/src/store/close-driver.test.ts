// closeDriver and layerRecord: a tool (the CLI) lets go of a home between commands without
// undoing mounts, and reads the store's records through typed accessors.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeDriver, layerRecord } from '../driver.js';
import type { LayerBackend } from './backend.js';
import { createLayerDriver } from './layer-driver.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'gd-close-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** A directory-per-layer backend that records its unmounts. */
function dirBackend(unmounts: string[]): LayerBackend {
  const dir = (id: string) => join(home, 'dirs', id);
  return {
    name: 'test',
    storageOptions: [],
    create: async (id) => void (await mkdir(dir(id), { recursive: true })),
    remove: async (id) => rm(dir(id), { recursive: true, force: true }),
    mount: async (id) => dir(id),
    unmount: async (id) => void unmounts.push(id),
    status: async () => [],
    metadata: async () => ({}),
    recover: async () => {},
    cleanup: async () => {},
  };
}

describe('closeDriver', () => {
  it('releases the home lock and keeps mounts and their references for a later process', async () => {
    const unmounts: string[] = [];
    const a = await createLayerDriver(home, dirBackend(unmounts));
    await a.create('l1');
    await a.get('l1');
    await closeDriver(a);
    expect(unmounts).toEqual([]);
    expect(existsSync(join(home, 'lock'))).toBe(false);

    const b = await createLayerDriver(home, dirBackend(unmounts));
    expect(layerRecord(b, 'l1')).toMatchObject({ id: 'l1', parent: null, rw: false, state: 'complete', mounts: 1 });
    await b.put('l1');
    expect(unmounts).toEqual(['l1']);
    expect(layerRecord(b, 'l1')?.mounts).toBe(0);
    expect(layerRecord(b, 'nope')).toBeUndefined();
    await b.cleanup();
  });
});
