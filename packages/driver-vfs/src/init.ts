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

export const name = 'vfs';

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
