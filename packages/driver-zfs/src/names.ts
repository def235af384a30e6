// ZFS dataset names: what the driver lets reach the zfs CLI, and how layer, temporary and
// snapshot names are built. Every name passes through here, so none can be read as an option.
import { TEMP_PREFIX } from '@graphdriver/core/linux';
import { randomBytes } from 'node:crypto';
import { ErrorCode, GraphDriverError } from '@graphdriver/core';

/** ZFS_MAX_DATASET_NAME_LEN is 256 including the NUL, in OpenZFS and in zfs-fuse alike. */
export const MAX_DATASET_NAME = 255;

/**
 * The characters every implementation accepts in a name component. Newer OpenZFS also takes
 * spaces, zfs-fuse some more; we stay with the common, shell-safe set. No leading '-', so a
 * name can never be taken for a CLI option.
 */
const COMPONENT = /^[A-Za-z0-9_.:][A-Za-z0-9_.:-]*$/;
/** Pool names must begin with a letter. */
const POOL = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/** Prefix of the snapshots the driver takes to clone a child from (see layer-datasets.ts). */
export const SNAPSHOT_PREFIX = 'gd-';
const SNAPSHOT_RANDOM_HEX = 12;
/** Length of "@gd-<12 hex>", which a layer's dataset name must leave room for. */
export const SNAPSHOT_SUFFIX_LEN = 1 + SNAPSHOT_PREFIX.length + SNAPSHOT_RANDOM_HEX;
/** Prefix of datasets under construction; they are renamed into place when complete. */
export { TEMP_PREFIX };

function componentOk(c: string): boolean {
  return COMPONENT.test(c) && c !== '.' && c !== '..';
}

/** Why `name` is not a safe dataset (or `dataset@snapshot`) name, or undefined when it is. */
export function datasetNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name === '') return 'empty';
  if (name.length > MAX_DATASET_NAME) return `longer than ${MAX_DATASET_NAME} characters`;
  const at = name.indexOf('@');
  const fs = at < 0 ? name : name.slice(0, at);
  if (at >= 0 && !componentOk(name.slice(at + 1))) return 'bad snapshot name';
  const parts = fs.split('/');
  if (!POOL.test(parts[0])) return 'pool name must start with a letter and use only [A-Za-z0-9_.:-]';
  for (const p of parts.slice(1)) {
    if (!componentOk(p)) return `bad component ${JSON.stringify(p)}: only [A-Za-z0-9_.:-], not starting with "-"`;
  }
  return undefined;
}

/** Guard for the CLI wrapper: a bad name here is a bug, never user input. */
export function assertDatasetName(name: string): void {
  const why = datasetNameProblem(name);
  if (why) throw new Error(`refusing to pass ${JSON.stringify(name)} to zfs as a dataset name: ${why}`);
}

/**
 * The dataset of layer `id` under `fsname`, or ERR_INVALID_ID: core accepts ids (any bytes
 * but "/" and NUL) that ZFS does not, and the name must leave room for a snapshot suffix so
 * the layer can later be a parent.
 */
export function layerDatasetName(fsname: string, id: string): string {
  const bad = (why: string) => new GraphDriverError(ErrorCode.InvalidId, `invalid layer id ${JSON.stringify(id)} for zfs: ${why}`);
  if (!componentOk(id)) throw bad('only [A-Za-z0-9_.:-] are allowed, not starting with "-"');
  const name = `${fsname}/${id}`;
  const room = MAX_DATASET_NAME - SNAPSHOT_SUFFIX_LEN;
  if (name.length > room) throw bad(`dataset name ${name.length} characters long, at most ${room} allowed under ${fsname}`);
  return name;
}

/** True when `id` can name a layer dataset under `fsname`. */
export function isValidLayerId(fsname: string, id: string): boolean {
  try {
    layerDatasetName(fsname, id);
    return true;
  } catch {
    return false;
  }
}

function randomHex(n: number): string {
  return randomBytes(Math.ceil(n / 2))
    .toString('hex')
    .slice(0, n);
}

export function tempDatasetName(fsname: string): string {
  return `${fsname}/${TEMP_PREFIX}${randomHex(16)}`;
}

export function snapshotName(dataset: string): string {
  return `${dataset}@${SNAPSHOT_PREFIX}${randomHex(SNAPSHOT_RANDOM_HEX)}`;
}

/** The last component of a dataset name ("pool/a/b" -> "b"). */
export function leafName(dataset: string): string {
  return dataset.slice(dataset.lastIndexOf('/') + 1);
}
