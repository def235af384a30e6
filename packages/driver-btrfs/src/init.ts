// Docker's btrfs Init: the home (or, before it exists, its nearest existing parent) must be
// on btrfs, and btrfs-progs must be there; anything else is "prerequisites not satisfied",
// so that the registry moves on to the next driver.
import {
  createLayerDriver,
  makeDirs,
  errPrerequisites,
  fsName,
  FsMagic,
  getFSMagic,
  type Driver,
  type IdMappings,
} from '@graphdriver/core';
import { nearestExisting } from '@graphdriver/core/linux';
import { BtrfsBackend } from './backend.js';
import { createBtrfs, type Btrfs } from './btrfs.js';
import { parseBtrfsOptions } from './options.js';

/** The name this package registers the driver under (`newDriver('btrfs', …)`). */
export const name = 'btrfs';

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface InitDeps {
  /** The btrfs-progs wrapper (tests point it at a missing command). */
  btrfs?: Btrfs;
}

/**
 * Checks the prerequisites and opens the driver over `home`, returning the backend too.
 *
 * @internal Not public API: exported only for the crash tests' child process, which loads the built package.
 */
export async function openBtrfs(
  home: string,
  options: string[] = [],
  idMappings?: IdMappings,
  deps: InitDeps = {},
): Promise<{ driver: Driver; backend: BtrfsBackend }> {
  const probe = await nearestExisting(home);
  const magic = await getFSMagic(probe);
  if (magic !== FsMagic.btrfs) throw errPrerequisites(name, `${probe} is on ${fsName(magic)}, not btrfs`);
  const btrfs = deps.btrfs ?? createBtrfs();
  if (!(await btrfs.available())) {
    throw errPrerequisites(name, `the ${btrfs.tool.command} command (btrfs-progs) is not installed`);
  }
  const opts = parseBtrfsOptions(options);
  await makeDirs(home, 0o710);
  const backend = new BtrfsBackend({ home, btrfs, options: opts, idMappings });
  try {
    const driver = await createLayerDriver(home, backend, { idMappings });
    return { driver, backend };
  } catch (err) {
    // undo what open() did (it may not have run: then there is nothing to undo)
    await backend.cleanup().catch(() => {});
    throw err;
  }
}

/**
 * Opens (making it if needed, mode 0710) the btrfs store at `home`: every layer is a
 * subvolume, a child a snapshot of its parent, and diffs come from `btrfs send` where it can
 * answer. Importing the package already registers this under {@link name}; call it directly
 * only to bypass the registry.
 *
 * `home` (or its nearest existing parent) must be on btrfs and btrfs-progs installed, else
 * throws ERR_PREREQUISITES (the registry then tries the next driver). The only option is
 * `btrfs.min_space=<bytes>` (see {@link BtrfsOptions}); any other key or a bad value throws
 * ERR_INVALID_OPTION. The driver owns `home` and its mounts until its `cleanup()`.
 */
export async function init(home: string, options: string[], idMappings?: IdMappings): Promise<Driver> {
  return (await openBtrfs(home, options, idMappings)).driver;
}
