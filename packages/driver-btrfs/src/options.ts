// Driver options, as Docker's btrfs driver: only `btrfs.min_space`.
import { applyOptions, parseSize } from '@graphdriver/core';

export interface BtrfsOptions {
  /** Smallest `size` a layer may ask for, in bytes; 0 = no minimum. Setting it enables quotas at init, as Docker. */
  minSpace: number;
}

export function parseDriverOptions(options: readonly string[]): BtrfsOptions {
  const out: BtrfsOptions = { minSpace: 0 };
  applyOptions('btrfs', options, {
    'btrfs.min_space': (v) => {
      out.minSpace = parseSize(v);
    },
  });
  return out;
}

/** Docker's units.HumanSize (decimal, 4 significant digits): "50MB", "1.5GB". */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}
