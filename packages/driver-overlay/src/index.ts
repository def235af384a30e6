// @graphdriver/driver-overlay: Docker's overlay2 graph driver over @graphdriver/core, with a
// native diff read from the layer's upper dir. Importing it registers the driver as "overlay2".
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name, openOverlay, type InitDeps } from './init.js';
export { OverlayBackend, type OverlayBackendConfig } from './backend.js';
export { parseOverlayOptions, type OverlayOptions } from './options.js';
export type { NativeDiff, NativeDiffStats, WhiteoutForm } from './native-diff.js';
export type { Mounter, OverlayDirs } from './overlay-mount.js';
export type { UpperForm } from './lower-view.js';
export type { Layout } from './layout.js';

register(name, init, { owner: '@graphdriver/driver-overlay' });
