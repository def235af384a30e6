// @graphdriver/driver-vfs: Docker's vfs driver. Every layer is a full copy of its parent
// in `home/dir/<id>` (reflinked where the filesystem can); works on any filesystem and
// without root.
import {
  createLayerDriver,
  errQuotaNotSupported,
  makeDirs,
  ProjectQuota,
  register,
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

register(name, init, { owner: '@graphdriver/driver-vfs' });

export { VfsBackend, type VfsBackendOptions } from './backend.js';
export { parseVfsOptions, type VfsOptions } from './options.js';
