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

export const name = 'btrfs';

export interface InitDeps {
  /** The btrfs-progs wrapper (tests point it at a missing command). */
  btrfs?: Btrfs;
}

/** Checks the prerequisites and opens the driver over `home`, returning the backend too. */
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

export async function init(home: string, options: string[], idMappings?: IdMappings): Promise<Driver> {
  return (await openBtrfs(home, options, idMappings)).driver;
}
