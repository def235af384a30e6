/**
 * The Linux plumbing every driver shares, written once: the mount table, mount/umount, loop
 * devices, errno tests, the container root's host owner, the in-process keyed lock, the
 * temporaries of atomic writes and XFS project quotas. Most of it runs system tools
 * (mount, losetup, xfs_quota) and needs root; their failures are ToolErrors (ERR_TOOL_FAILED).
 *
 * @module @graphdriver/core/linux
 */
export {
  parseMountInfo,
  readMountInfo,
  mountAt,
  mountsUnder,
  mountOf,
  splitDev,
  nearestExisting,
  type MountInfo,
} from './linux/mountinfo.js';
export { mount, bindMount, makeMount, unmount, type MountOptions } from './linux/mount.js';
export { findLoop, attachLoop, refreshLoopCapacity, detachLoop } from './linux/loop.js';
export { errnoCode, isErrno } from './linux/errno.js';
export { rootPair } from './linux/root-owner.js';
export { KeyedMutex } from './linux/keyed-mutex.js';
export { TEMP_PREFIX, tempPathFor, tempPathIn, isTempName, sweepTemps } from './linux/atomic-temp.js';
export { ProjectQuota, XfsQuota, type QuotaProbe } from './linux/project-quota.js';
