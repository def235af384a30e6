// The dm.* driver options, as Docker's devicemapper reads them.
import { applyOptions, errInvalidOption, parseBool, parseSize } from '@graphdriver/core';
import type { FsType } from './filesystem.js';

/**
 * The devicemapper driver's options, as parsed from the `dm.*` strings given to {@link init}
 * (Docker's names and defaults; sizes in bytes).
 */
export interface DevmapperOptions {
  /** `dm.basesize`: size of the base thin device, and so of every layer's filesystem (default 10 GiB). */
  baseSize: number;
  /** `dm.loopdatasize`: size of the sparse loop file backing the pool's data when no devices are given (default 100 GiB). */
  loopDataSize: number;
  /** `dm.loopmetadatasize`: size of the sparse loop file backing the pool's metadata (default 2 GiB). */
  loopMetadataSize: number;
  /** `dm.fs`: the filesystem made on the base device (default ext4). */
  fs: FsType;
  /** `dm.mkfsarg` (repeatable): extra arguments for mkfs. */
  mkfsArgs: string[];
  /** `dm.mountopt`: mount options for the layers' filesystems, comma-joined. */
  mountOptions: string;
  /** An existing thin pool to use instead of loop files. */
  thinPoolDev?: string;
  /** `dm.datadev`: a block device for the pool's data instead of a loop file (with `metadataDev`). */
  dataDev?: string;
  /** `dm.metadatadev`: a block device for the pool's metadata instead of a loop file (with `dataDev`). */
  metadataDev?: string;
  /** Pool block size in 512-byte sectors (Docker default 128 = 64 KiB). */
  blockSizeSectors: number;
  /** Refuse new devices when less than this percentage of the pool is free. */
  minFreeSpacePercent: number;
  /** `dm.use_deferred_removal`: a busy device is removed by the kernel once released, instead of failing. */
  deferredRemoval: boolean;
  /** `dm.use_deferred_deletion` (needs deferred removal): a device that cannot be deleted now is deleted later. */
  deferredDeletion: boolean;
}

const GiB = 2 ** 30;

/**
 * Parses devicemapper driver options (`dm.*`, keys case-insensitive), as {@link init} does.
 * Throws ERR_INVALID_OPTION for an unknown key, a bad value, or a bad combination
 * (`dm.thinpooldev` with data/metadata devices, only one of those two, deferred deletion
 * without deferred removal).
 */
export function parseDevmapperOptions(options: readonly string[]): DevmapperOptions {
  const o: DevmapperOptions = {
    baseSize: 10 * GiB,
    loopDataSize: 100 * GiB,
    loopMetadataSize: 2 * GiB,
    fs: 'ext4',
    mkfsArgs: [],
    mountOptions: '',
    blockSizeSectors: 128,
    minFreeSpacePercent: 10,
    deferredRemoval: false,
    deferredDeletion: false,
  };
  applyOptions('devicemapper', options, {
    'dm.basesize': (v) => (o.baseSize = parseSize(v)),
    'dm.loopdatasize': (v) => (o.loopDataSize = parseSize(v)),
    'dm.loopmetadatasize': (v) => (o.loopMetadataSize = parseSize(v)),
    'dm.fs': (v) => {
      if (v !== 'ext4' && v !== 'xfs') throw errInvalidOption(`devicemapper: unsupported filesystem ${v} (ext4 or xfs)`);
      o.fs = v;
    },
    'dm.mkfsarg': (v) => o.mkfsArgs.push(v),
    'dm.mountopt': (v) => (o.mountOptions = [o.mountOptions, v].filter(Boolean).join(',')),
    'dm.thinpooldev': (v) => (o.thinPoolDev = v.replace(/^\/dev\/mapper\//, '')),
    'dm.datadev': (v) => (o.dataDev = v),
    'dm.metadatadev': (v) => (o.metadataDev = v),
    'dm.blocksize': (v) => {
      const bytes = parseSize(v);
      // the kernel takes 64 KiB .. 1 GiB, in multiples of 64 KiB
      if (bytes < 65536 || bytes > GiB || bytes % 65536) {
        throw errInvalidOption(`devicemapper: dm.blocksize ${v} must be a multiple of 64K between 64K and 1G`);
      }
      o.blockSizeSectors = bytes / 512;
    },
    'dm.min_free_space': (v, k) => {
      const m = /^(\d+)%$/.exec(v);
      if (!m || Number(m[1]) >= 100) throw errInvalidOption(`devicemapper: ${k} needs a percentage below 100, like 10%`);
      o.minFreeSpacePercent = Number(m[1]);
    },
    'dm.use_deferred_removal': (v, k) => (o.deferredRemoval = parseBool(k, v)),
    'dm.use_deferred_deletion': (v, k) => (o.deferredDeletion = parseBool(k, v)),
  });
  if (o.thinPoolDev && (o.dataDev || o.metadataDev)) {
    throw errInvalidOption('devicemapper: dm.thinpooldev cannot be combined with dm.datadev/dm.metadatadev');
  }
  if (!!o.dataDev !== !!o.metadataDev) {
    throw errInvalidOption('devicemapper: dm.datadev and dm.metadatadev must be given together');
  }
  if (o.deferredDeletion && !o.deferredRemoval) {
    throw errInvalidOption('devicemapper: dm.use_deferred_deletion needs dm.use_deferred_removal');
  }
  return o;
}
