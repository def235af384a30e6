// Init of the zfs driver: find the implementation and the parent dataset, then hand a
// ZfsBackend to core's createLayerDriver.
import { resolve } from 'node:path';
import { createLayerDriver, errInvalidOption, errPrerequisites, type Driver, type IdMappings, type InitFunc } from '@graphdriver/core';
import { rootPair } from '@graphdriver/core/linux';
import { ZfsBackend } from './backend.js';
import { FuseWatchdog, guardDriver } from './fuse-watchdog.js';
import { detectFlavour, type Flavour } from './flavour.js';
import { zfsDatasetHolding } from './mountinfo.js';
import { datasetNameProblem } from './names.js';
import { parseZfsOptions } from './options.js';
import { ZfsCli, systemTools, type ZfsTools } from './zfs-cli.js';
import { isMissingDataset } from './zfs-errors.js';

export interface ZfsInitDeps {
  /** Skip detection (tests, or a caller that knows). */
  flavour?: Flavour;
  tools?: ZfsTools;
  /** Timing of the zfs-fuse watchdog (fuse-watchdog.ts); default: zfs.hangtimeout. */
  watchdog?: { intervalMs: number; timeoutMs: number };
}

/** The name this package registers the driver under (`newDriver('zfs', …)`). */
export const name = 'zfs';

/** Host uid/gid of the container's root, when user namespaces remap it away from 0:0. */
export function mappedRoot(idMappings: IdMappings | undefined): { uid: number; gid: number } | undefined {
  const { uid, gid } = rootPair(idMappings);
  return uid === 0 && gid === 0 ? undefined : { uid, gid };
}

export async function initZfs(homeArg: string, options: string[], idMappings?: IdMappings, deps: ZfsInitDeps = {}): Promise<Driver> {
  const opts = parseZfsOptions(options);
  const home = resolve(homeArg);

  let flavour = deps.flavour;
  if (!flavour) {
    const found = await detectFlavour();
    if ('unavailable' in found) throw errPrerequisites(name, found.unavailable);
    flavour = found;
  }
  const zfs = new ZfsCli(flavour, deps.tools ?? systemTools());
  try {
    await zfs.answer();
  } catch (err) {
    throw errPrerequisites(name, 'the zfs command does not answer', err);
  }

  let fsname = opts.fsname;
  if (!fsname) {
    const held = await zfsDatasetHolding(home);
    if (!held) throw errPrerequisites(name, `no zfs dataset holds ${home}; set zfs.fsname`);
    const why = datasetNameProblem(held.dataset);
    if (why) throw errPrerequisites(name, `dataset ${JSON.stringify(held.dataset)} holding ${home} is unusable: ${why}`);
    fsname = held.dataset;
  }

  let type: string | undefined;
  try {
    type = (await zfs.get(fsname, ['type'])).type;
  } catch (err) {
    if (isMissingDataset(err)) throw errInvalidOption(`zfs.fsname: dataset ${fsname} does not exist`);
    throw err;
  }
  if (type !== 'filesystem') throw errInvalidOption(`zfs.fsname: ${fsname} is a ${type}, not a filesystem`);

  const backend = new ZfsBackend({
    home,
    fsname,
    zfs,
    mountOptions: opts.mountOptions,
    rootOwner: mappedRoot(idMappings),
  });
  const driver = await createLayerDriver(home, backend, { idMappings });
  const hangMs = deps.watchdog?.timeoutMs ?? opts.hangTimeoutMs;
  if (flavour.kind !== 'zfs-fuse' || hangMs === 0) return driver;
  // zfs-fuse's own deadlock must fail calls fast, not hang them (OpenZFS is in the kernel)
  const dog = new FuseWatchdog({
    dir: backend.graphDir,
    probe: ['zpool', 'list', '-H', '-o', 'name'], // run by the watchdog: the driver's commands queue
    intervalMs: deps.watchdog?.intervalMs ?? hangMs,
    timeoutMs: hangMs,
  });
  return guardDriver(driver, dog);
}

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
