// Init of the devicemapper driver: device-mapper must answer, then a DevmapperBackend goes to
// core's createLayerDriver.
import { access, constants } from 'node:fs/promises';
import { createLayerDriver, errPrerequisites, type InitFunc } from '@graphdriver/core';
import { DevmapperBackend } from './backend.js';
import { dmsetup } from './dmsetup.js';
import { parseDevmapperOptions } from './options.js';

/** The name this package registers the driver under (`newDriver('devicemapper', …)`). */
export const name = 'devicemapper';

/**
 * Opens (making it if needed) the devicemapper store at `home`: a thin pool (on sparse loop
 * files under `home` unless `dm.thinpooldev` or `dm.datadev`/`dm.metadatadev` name devices)
 * whose thin snapshots are the layers. Importing the package already registers this under
 * {@link name}; call it directly only to bypass the registry.
 *
 * Needs root, `/dev/mapper/control` and dmsetup, else throws ERR_PREREQUISITES (the registry
 * then tries the next driver). `options` are the `dm.*` strings of {@link DevmapperOptions};
 * a bad one throws ERR_INVALID_OPTION. The driver owns `home`, its devices and mounts until
 * its `cleanup()`.
 */
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
