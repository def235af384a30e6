// A real vfs store for the library's tests, and the tree of one of its layers.
import '@graphdriver/driver-vfs';
import { closeDriver, newDriver, type Driver } from '@graphdriver/core';
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
