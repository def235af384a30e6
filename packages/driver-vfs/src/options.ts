// vfs driver options (Docker's `size`, containers/storage's `vfs.ignore_chown_errors`).
import { applyOptions, parseBool, parseSize } from '@graphdriver/core';

export interface VfsOptions {
  /** Tolerate failing chown while applying layers (default: true unless root). */
  ignoreChownErrors: boolean;
  /** Default quota of read-write layers in bytes, 0 for none (Docker's vfs `size`). */
  defaultSize: number;
}

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
