// What a failed zfs/zpool/umount command meant, read from its stderr (the CLI has no error
// codes; these messages are the same in OpenZFS and zfs-fuse).
import { ErrorCode, GraphDriverError, ToolError } from '@graphdriver/core';

const stderrOf = (err: unknown) => (err instanceof ToolError ? err.stderr : '');

export const isMissingDataset = (err: unknown) => /does not exist/i.test(stderrOf(err));
/** "dataset is busy", "pool is busy", "target is busy", "mountpoint or dataset is busy". */
export const isBusy = (err: unknown) => /busy/i.test(stderrOf(err));
export const isAlreadyExists = (err: unknown) => /already exists/i.test(stderrOf(err));
export const isAlreadyMounted = (err: unknown) => /already mounted/i.test(stderrOf(err));
export const isNotMounted = (err: unknown) => /not (currently )?mounted/i.test(stderrOf(err));
/**
 * A full pool or a quota reached: libzfs says "out of space" (its EZFS_NOSPC, for ENOSPC and
 * EDQUOT alike), mount(8) and the kernel "No space left on device" / "Disk quota exceeded".
 */
export const isOutOfSpace = (err: unknown) => /out of space|no space left|disk quota exceeded/i.test(stderrOf(err));

/** A tool's "out of space" as the typed ERR_NO_SPACE (keeping its message); other errors pass through. */
export function asNoSpace(err: unknown): unknown {
  return isOutOfSpace(err) ? new GraphDriverError(ErrorCode.NoSpace, (err as Error).message, { cause: err }) : err;
}
