// Driver options of the zfs driver: zfs.fsname (the parent dataset of all layers) and
// zfs.mountopt (options for every layer mount), as in Docker and containers/storage.
import { applyOptions, errInvalidOption } from '@graphdriver/core';
import { datasetNameProblem } from './names.js';

/** The zfs driver's options, as parsed from the `zfs.*` strings given to {@link init}. */
export interface ZfsOptions {
  /** `zfs.fsname`: the parent dataset of all layers; unset, the dataset holding the home is used. */
  fsname?: string;
  /** `zfs.mountopt` (comma-separated, repeatable): options for every layer mount. */
  mountOptions: string[];
  /** zfs.hangtimeout: ms without an answer from zfs-fuse before its mounts are aborted (0: never). */
  hangTimeoutMs: number;
}

const DEFAULT_HANG_TIMEOUT_MS = 10_000;

/**
 * Parses zfs driver options (`zfs.fsname`, `zfs.mountopt`, `zfs.hangtimeout` in seconds;
 * keys case-insensitive), as {@link init} does. Throws ERR_INVALID_OPTION for an unknown key,
 * a `zfs.fsname` that is not a dataset name, or a timeout that is not a number of seconds.
 */
export function parseZfsOptions(options: readonly string[]): ZfsOptions {
  const out: ZfsOptions = { mountOptions: [], hangTimeoutMs: DEFAULT_HANG_TIMEOUT_MS };
  applyOptions('zfs', options, {
    'zfs.fsname': (value) => {
      const why = datasetNameProblem(value);
      if (why || value.includes('@'))
        throw errInvalidOption(`zfs.fsname ${JSON.stringify(value)} is not a dataset name: ${why ?? 'a snapshot'}`);
      out.fsname = value;
    },
    // seconds, as Docker's durations without a unit; 0 turns the zfs-fuse watchdog off
    'zfs.hangtimeout': (value) => {
      const s = Number(value.replace(/s$/, ''));
      if (!/^\d+(\.\d+)?s?$/.test(value) || !Number.isFinite(s))
        throw errInvalidOption(`zfs.hangtimeout ${JSON.stringify(value)} is not a number of seconds`);
      out.hangTimeoutMs = Math.round(s * 1000);
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
