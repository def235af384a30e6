// Driver options, as Docker's btrfs driver: only `btrfs.min_space`.
import { applyOptions, parseSize } from '@graphdriver/core';

/** The btrfs driver's options, as parsed from the `key=value` strings given to {@link init}. */
export interface BtrfsOptions {
  /** `btrfs.min_space`: smallest `size` a layer may ask for, in bytes; 0 = no minimum. Setting it enables quotas at init, as Docker. */
  minSpace: number;
}

export function parseBtrfsOptions(options: readonly string[]): BtrfsOptions {
  const out: BtrfsOptions = { minSpace: 0 };
  applyOptions('btrfs', options, {
    'btrfs.min_space': (v) => {
      out.minSpace = parseSize(v);
    },
  });
  return out;
}

export { humanSize } from '@graphdriver/core';
