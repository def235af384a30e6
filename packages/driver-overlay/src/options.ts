// overlay2 driver options: Docker's `overlay2.size` (a default quota for new layers) and
// containers/storage's `overlay2.ignore_chown_errors` (rootless stores).
import { applyOptions, parseBool, parseSize } from '@graphdriver/core';

/** The overlay2 driver's options, as parsed from the `key=value` strings given to {@link init}. */
export interface OverlayOptions {
  /** Default quota of new layers in bytes, 0 for none. */
  defaultSize: number;
  /** Tolerate failing chown while applying layers (default: true unless root). */
  ignoreChownErrors: boolean;
}

/**
 * Parses overlay2 driver options (`overlay2.size`, `overlay2.ignore_chown_errors`, keys
 * case-insensitive), as {@link init} does; `isRoot` decides the chown default. Throws
 * ERR_INVALID_OPTION for an unknown key or a bad value.
 */
export function parseOverlayOptions(options: readonly string[], isRoot: boolean): OverlayOptions {
  const out: OverlayOptions = { defaultSize: 0, ignoreChownErrors: !isRoot };
  applyOptions('overlay2', options, {
    'overlay2.size': (v) => {
      out.defaultSize = parseSize(v);
    },
    'overlay2.ignore_chown_errors': (v, k) => {
      out.ignoreChownErrors = parseBool(k, v);
    },
  });
  return out;
}
