// A real vfs store for the library's tests, and the tree of one of its layers (the tree umoci
// unpacks is ./tree.ts's umociTree).
import '@graphdriver/driver-vfs';
import { closeDriver, newDriver, type Driver } from '@graphdriver/core';
import { snapshotTree } from '@graphdriver/core/testing';

export function openVfs(root: string): Promise<Driver> {
  return newDriver('vfs', { root, driverOptions: [] });
}

export async function layerTree(driver: Driver, id: string) {
  const path = await driver.get(id);
  try {
    return await snapshotTree(path);
  } finally {
    await driver.put(id);
  }
}

export { closeDriver };

export { umociTree } from './tree.js';
