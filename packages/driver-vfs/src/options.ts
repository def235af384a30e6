// vfs driver options (Docker's `size`, containers/storage's `vfs.ignore_chown_errors`).
import { applyOptions, parseBool, parseSize } from '@graphdriver/core';

/** The vfs driver's options, as parsed from the `key=value` strings given to {@link init}. */
export interface VfsOptions {
  /** Tolerate failing chown while applying layers (default: true unless root). */
  ignoreChownErrors: boolean;
  /** Default quota of read-write layers in bytes, 0 for none (Docker's vfs `size`). */
  defaultSize: number;
}

/**
 * Parses vfs driver options (`size`, `vfs.ignore_chown_errors`, keys case-insensitive), as
 * {@link init} does; `isRoot` decides the chown default. Throws ERR_INVALID_OPTION for an
 * unknown key or a bad value.
 */
export function parseVfsOptions(options: readonly string[], isRoot: boolean): VfsOptions {
  const out: VfsOptions = { ignoreChownErrors: !isRoot, defaultSize: 0 };
  applyOptions('vfs', options, {
    'vfs.ignore_chown_errors': (v, k) => {
      out.ignoreChownErrors = parseBool(k, v);
    },
    size: (v) => {
      out.defaultSize = parseSize(v);
    },
  });
  return out;
}
