// Init of the vfs driver: parse the options, probe project quotas on home, then hand a
// VfsBackend to core's createLayerDriver.
import {
  createLayerDriver,
  errQuotaNotSupported,
  makeDirs,
  ProjectQuota,
  type Driver,
  type IdMappings,
  type InitFunc,
} from '@graphdriver/core';
import { VfsBackend } from './backend.js';
import { parseVfsOptions } from './options.js';

/** The name this package registers the driver under (`newDriver('vfs', …)`). */
export const name = 'vfs';

/**
 * Opens (making it if needed, mode 0710) the vfs store at `home`. Importing the package
 * already registers this under {@link name}; call it directly only to bypass the registry.
 *
 * `options` are `key=value` strings: `size=<bytes>` (default quota of read-write layers,
 * binary units as in `10G`; needs XFS project quotas under `home`) and
 * `vfs.ignore_chown_errors=<bool>` (default true unless running as root). An unknown key or
 * bad value throws ERR_INVALID_OPTION; `size` where `home` has no project quota throws
 * ERR_QUOTA_NOT_SUPPORTED. The driver owns `home` until its `cleanup()` (another process
 * opening it meanwhile gets ERR_STORE_BUSY).
 */
export const init: InitFunc = async (home: string, options: string[], idMappings?: IdMappings): Promise<Driver> => {
  const opts = parseVfsOptions(options, process.getuid?.() === 0);
  await makeDirs(home, 0o710);
  const probe = await ProjectQuota.probe(home);
  if (opts.defaultSize > 0 && !probe.supported) throw errQuotaNotSupported(`vfs: size=${opts.defaultSize}: ${probe.reason}`);
  const backend = new VfsBackend(home, {
    quota: probe.supported ? probe.quota : { unsupported: probe.reason },
    defaultSize: opts.defaultSize,
    idMappings,
  });
  return createLayerDriver(home, backend, { ignoreChownErrors: opts.ignoreChownErrors, idMappings });
};
