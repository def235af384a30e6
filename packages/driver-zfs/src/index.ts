// @graphdriver/driver-zfs: Docker's zfs graph driver on OpenZFS or zfs-fuse. Registers itself
// as "zfs" on import.
import { register, type InitFunc } from '@graphdriver/core';
import { initZfs } from './driver.js';

/** The name this package registers the driver under (`newDriver('zfs', …)`). */
export const name = 'zfs';

/**
 * Opens the zfs store at `home`: every layer is a dataset under the parent dataset
 * (`zfs.fsname`, else the dataset holding `home`), a child a clone of its parent. Works on
 * OpenZFS and zfs-fuse, detected here. Importing the package already registers this under
 * {@link name}; call it directly only to bypass the registry.
 *
 * Throws ERR_PREREQUISITES when no zfs answers or no dataset holds `home` and no
 * `zfs.fsname` is given (the registry then tries the next driver); ERR_INVALID_OPTION for a
 * bad option (see {@link ZfsOptions}) or a `zfs.fsname` that is missing or not a filesystem.
 * On zfs-fuse a daemon that stops answering makes the driver's calls fail with ERR_HUNG
 * after `zfs.hangtimeout` instead of hanging. The driver owns `home`'s layer datasets and
 * mounts until its `cleanup()`; datasets not marked with this home are never touched.
 */
export const init: InitFunc = (home, options, idMappings) => initZfs(home, options, idMappings);

register(name, init, { owner: '@graphdriver/driver-zfs' });

export { parseZfsOptions, type ZfsOptions } from './options.js';
