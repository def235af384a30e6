// @graphdriver/driver-zfs: Docker's zfs graph driver on OpenZFS or zfs-fuse. Registers itself
// as "zfs" on import.
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name } from './init.js';
export { parseZfsOptions, type ZfsOptions } from './options.js';

register(name, init, { owner: '@graphdriver/driver-zfs' });
