// @graphdriver/driver-zfs: Docker's zfs graph driver on OpenZFS or zfs-fuse. Registers itself
// as "zfs" on import.
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name, initZfs, mappedRoot, type ZfsInitDeps } from './init.js';
export { flavour, classifyFlavour, detectFlavour, type Flavour, type FlavourKind, type VersionProbe } from './flavour.js';
export type { ZfsTools, Runner } from './zfs-cli.js';
export { parseZfsSize } from './human-size.js';
export { parseZfsOptions, type ZfsOptions } from './options.js';
export { HOME_PROPERTY } from './backend.js';

register(name, init, { owner: '@graphdriver/driver-zfs' });
