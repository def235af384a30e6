// What a failed zfs/zpool/umount command meant, read from its stderr (the CLI has no error
// codes; these messages are the same in OpenZFS and zfs-fuse).
import { ToolError } from '@graphdriver/core';

const stderrOf = (err: unknown) => (err instanceof ToolError ? err.stderr : '');

export const isMissingDataset = (err: unknown) => /does not exist/i.test(stderrOf(err));
/** "dataset is busy", "pool is busy", "target is busy", "mountpoint or dataset is busy". */
export const isBusy = (err: unknown) => /busy/i.test(stderrOf(err));
export const isAlreadyExists = (err: unknown) => /already exists/i.test(stderrOf(err));
export const isAlreadyMounted = (err: unknown) => /already mounted/i.test(stderrOf(err));
export const isNotMounted = (err: unknown) => /not (currently )?mounted/i.test(stderrOf(err));
