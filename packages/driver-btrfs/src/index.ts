// @graphdriver/driver-btrfs: Docker's btrfs graph driver over @graphdriver/core, with a
// native diff from `btrfs send`. Importing it registers the driver as "btrfs".
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name } from './init.js';
export type { BtrfsOptions } from './options.js';
// @internal: for the crash tests' child process, which can only load the built package
export { openBtrfs, type InitDeps } from './init.js';
export { BtrfsBackend, type BtrfsBackendConfig } from './backend.js';
export type {
  Btrfs,
  SubvolumeInfo,
  QgroupInfo,
  SubvolumeListEntry,
  FilesystemShow,
  FilesystemUsage,
} from './btrfs.js';
export type { NativeDiff, NativeDiffStats, SnapshotPair } from './native-diff.js';

register(name, init, { owner: '@graphdriver/driver-btrfs' });
