// A real vfs store for the library's tests, and the tree of one of its layers.
import '@graphdriver/driver-vfs';
import { closeDriver, newDriver, type Driver } from '@graphdriver/core';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { umoci } from './tools.js';
import { snapshotTree, type TreeOptions } from './tree.js';

export function openVfs(root: string): Promise<Driver> {
  return newDriver('vfs', { root, driverOptions: [] });
}

export async function layerTree(driver: Driver, id: string, opts: TreeOptions = {}) {
  const path = await driver.get(id);
  try {
    return await snapshotTree(path, opts);
  } finally {
    await driver.put(id);
  }
}

export { closeDriver };

/** The tree `umoci unpack` makes of an image (`LAYOUT:TAG`), unpacked under `work`: the reference imports are compared with. */
export async function umociTree(work: string, image: string) {
  const bundle = join(await mkdtemp(join(work, 'bundle-')), 'b');
  await umoci.unpack(image, bundle);
  const tree = await snapshotTree(join(bundle, 'rootfs'));
  await rm(bundle, { recursive: true, force: true });
  return tree;
}
