// @graphdriver/driver-vfs: Docker's vfs driver. Every layer is a full copy of its parent
// in `home/dir/<id>` (reflinked where the filesystem can); works on any filesystem and
// without root.
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name } from './init.js';
export { parseVfsOptions, type VfsOptions } from './options.js';

register(name, init, { owner: '@graphdriver/driver-vfs' });
