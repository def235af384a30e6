// @graphdriver/driver-overlay: Docker's overlay2 graph driver over @graphdriver/core, with a
// native diff read from the layer's upper dir. Importing it registers the driver as "overlay2".
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name } from './init.js';
export { parseOverlayOptions, type OverlayOptions } from './options.js';

register(name, init, { owner: '@graphdriver/driver-overlay' });
