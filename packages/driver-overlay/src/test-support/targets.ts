// Conformance targets for overlay2 over a directory of some filesystem.
import { type ConformanceTarget, homesUnder } from '@graphdriver/core/testing';
import { init } from '../index.js';

export function overlayTarget(
  name: string,
  /** Where homes are made; a function when it is only known once a beforeAll ran. */
  base: string | (() => string),
  extra: Partial<ConformanceTarget> = {},
): ConformanceTarget {
  return {
    name,
    makeHome: homesUnder(base, 'overlay-home-'),
    init: (home, options = []) => init(home, options),
    quota: 'unsupported',
    // deeper than moby's 128-layer limit on lower dirs: the relative lowerdirs must fit
    deepLayers: 130,
    copyUpBreaksHardlinks: true,
    ...extra,
  };
}
