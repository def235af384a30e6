// Init of the devicemapper driver: device-mapper must answer, then a DevmapperBackend goes to
// core's createLayerDriver.
import { access, constants } from 'node:fs/promises';
import { createLayerDriver, errPrerequisites, type InitFunc } from '@graphdriver/core';
import { DevmapperBackend } from './backend.js';
import { dmsetup } from './dmsetup.js';
import { parseDevmapperOptions } from './options.js';

export const name = 'devicemapper';

export const init: InitFunc = async (home, options, idMappings) => {
  const opts = parseDevmapperOptions(options);
  try {
    await access('/dev/mapper/control', constants.R_OK | constants.W_OK);
    await dmsetup.driverVersion();
  } catch (err) {
    throw errPrerequisites(name, 'device-mapper is not available (no /dev/mapper/control or dmsetup)', err);
  }
  return createLayerDriver(home, new DevmapperBackend(home, opts), { idMappings });
};
