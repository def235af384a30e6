// Driver options of the zfs driver: zfs.fsname (the parent dataset of all layers) and
// zfs.mountopt (options for every layer mount), as in Docker and containers/storage.
import { applyOptions, errInvalidOption } from '@graphdriver/core';
import { datasetNameProblem } from './names.js';

export interface ZfsOptions {
  fsname?: string;
  mountOptions: string[];
}

export function parseZfsOptions(options: readonly string[]): ZfsOptions {
  const out: ZfsOptions = { mountOptions: [] };
  applyOptions('zfs', options, {
    'zfs.fsname': (value) => {
      const why = datasetNameProblem(value);
      if (why || value.includes('@')) throw errInvalidOption(`zfs.fsname ${JSON.stringify(value)} is not a dataset name: ${why ?? 'a snapshot'}`);
      out.fsname = value;
    },
    'zfs.mountopt': (value) => {
      out.mountOptions.push(
        ...value
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      );
    },
  });
  return out;
}
