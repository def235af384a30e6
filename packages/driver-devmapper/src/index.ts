// @graphdriver/driver-devmapper: device-mapper thin snapshots (Docker's devicemapper driver).
// Importing it registers the driver as "devicemapper".
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name } from './init.js';
export { parseDevmapperOptions, type DevmapperOptions } from './options.js';
export type { FsType } from './filesystem.js';

register(name, init, { owner: '@graphdriver/driver-devmapper' });
