// @graphdriver/driver-btrfs: Docker's btrfs graph driver over @graphdriver/core, with a
// native diff from `btrfs send`. Importing it registers the driver as "btrfs".
import { register } from '@graphdriver/core';
import { init, name } from './init.js';

export { init, name, openBtrfs, type InitDeps } from './init.js';
export { BtrfsBackend, type BtrfsBackendConfig } from './backend.js';
export {
  createBtrfs,
  type Btrfs,
  type SubvolumeInfo,
  type QgroupInfo,
  type SubvolumeListEntry,
  type FilesystemShow,
  type FilesystemUsage,
} from './btrfs.js';
export type { NativeDiff, NativeDiffStats, SnapshotPair } from './native-diff.js';
export type { BtrfsOptions } from './options.js';
export { parseSendStream, type SendOp, type SendStream } from './send-stream.js';
export { parseReceiveDump } from './receive-dump.js';
export { touchedPaths, type TouchedPaths } from './touched-paths.js';

register(name, init, { owner: '@graphdriver/driver-btrfs' });
