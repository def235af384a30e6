// Conformance targets for the vfs driver over a directory of some filesystem.
import { type ConformanceTarget, homesUnder } from '@graphdriver/core/testing';
import { init } from '../index.js';

export function vfsTarget(
  name: string,
  /** Where homes are made; a function when it is only known once a beforeAll ran. */
  base: string | (() => string),
  extra: Partial<ConformanceTarget> = {},
): ConformanceTarget {
  return {
    name,
    makeHome: homesUnder(base, 'vfs-home-'),
    init: (home, options = []) => init(home, options),
    quota: 'unsupported',
    ...extra,
  };
}
