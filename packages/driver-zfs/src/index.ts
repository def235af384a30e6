// @graphdriver/driver-zfs: Docker's zfs graph driver on OpenZFS or zfs-fuse. Registers itself
// as "zfs" on import.
import { register, type InitFunc } from '@graphdriver/core';
import { initZfs } from './driver.js';

export const name = 'zfs';

export const init: InitFunc = (home, options, idMappings) => initZfs(home, options, idMappings);

register(name, init, { owner: '@graphdriver/driver-zfs' });

export { initZfs, mappedRoot, type ZfsInitDeps } from './driver.js';
export { flavour, classifyFlavour, detectFlavour, type Flavour, type FlavourKind, type VersionProbe } from './flavour.js';
export type { ZfsTools, Runner } from './zfs-cli.js';
export { parseZfsSize } from './human-size.js';
export { parseZfsOptions, type ZfsOptions } from './options.js';
export { HOME_PROPERTY } from './backend.js';
