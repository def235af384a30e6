// createLayerDriver's guard against homes it did not make (crash recovery would sweep them),
// and what a first init that dies inside the backend's open leaves behind.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import type { LayerBackend } from './backend.js';
import { createLayerDriver } from './layer-driver.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'gd-foreign-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** A directory-per-layer backend whose open makes its own directory, then runs `onOpen`. */
function backend(onOpen: () => Promise<void> = async () => {}): LayerBackend {
  const dir = (id: string) => join(home, 'dirs', id);
  return {
    name: 'test',
    storageOptions: [],
    open: async () => {
      await mkdir(join(home, 'dirs'), { recursive: true });
      await onOpen();
    },
    create: async (id) => void (await mkdir(dir(id), { recursive: true })),
    remove: async (id) => rm(dir(id), { recursive: true, force: true }),
    mount: async (id) => dir(id),
    unmount: async () => {},
    status: async () => [],
    metadata: async () => ({}),
    recover: async () => {},
    cleanup: async () => {},
  };
}

describe('a home this library did not make', () => {
  it('is refused, and left as it was', async () => {
    await writeFile(join(home, 'precious'), 'data');
    await expect(createLayerDriver(home, backend())).rejects.toMatchObject({ code: ErrorCode.ForeignHome });
    expect(await readdir(home)).toEqual(['precious']);
  });

  // Found by devicemapper's crash campaign (robustness.vm.suite.ts): its first open formats the
  // base device for seconds; a kill (or any failure) then left home/devicemapper, metadata and
  // mnt without home/layers, and every later init refused the home as foreign.
  it('is not what a first init that failed inside the backend open leaves: the next init takes the home', async () => {
    await expect(
      createLayerDriver(
        home,
        backend(async () => {
          throw new Error('killed while the backend set itself up');
        }),
      ),
    ).rejects.toThrow(/killed/);
    const d = await createLayerDriver(home, backend());
    await d.create('l1');
    expect(await d.list()).toEqual(['l1']);
    await d.cleanup();
  });
});
