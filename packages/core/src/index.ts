/**
 * The graph driver contract ({@link Driver}), the driver registry ({@link newDriver},
 * {@link register}), typed errors ({@link GraphDriverError}, {@link ErrorCode}), the layer
 * store a driver package builds on ({@link createLayerDriver} over a {@link LayerBackend}),
 * Docker layer tarballs ({@link applyLayer}, {@link exportChanges}, {@link readTar},
 * {@link packEntries}) and the naive diff.
 *
 * @module @graphdriver/core
 */
export * from './driver.js';
export * from './errors.js';
export { validateId, normalizeParent, MAX_ID_LENGTH } from './ids.js';
export * from './fsmagic.js';
export * from './registry.js';
export { tool, ToolError, type Tool, type RunOptions, type RunResult } from './exec.js';
export * from './options.js';
export {
  readTar,
  packEntries,
  encodeHeader,
  padding,
  END_OF_ARCHIVE,
  type ReadTarOptions,
  type PackEntry,
  type EncodeOptions,
} from './tar/index.js';
export type { TarHeader, TarEntry, EntryType } from './tar/types.js';
export { createLayerDriver, LayerDriver, type LayerDriverOptions } from './store/layer-driver.js';
export type { LayerBackend, BackendCreateOpts, BackendDiffOptions } from './store/backend.js';
export { writeFileAtomic } from './store/atomic-file.js';
export { faultPoint, FAULT_POINTS, type FaultPointName, type BackendFaultPointName } from './store/fault-points.js';
export { naiveDiffDriver, naiveDiffDriverWithApply, type ApplyDiffProtoDriver, type Lease, type LeasingProtoDriver } from './diff/naive.js';
export { abortError, abortableSource, destroyOnAbort, throwIfAborted } from './abort.js';
export { changesDirs, entryModified } from './diff/changes.js';
export { lstatQuiet, lstatImplementation, type FileStat } from './fs/lstat.js';
export { readXattr } from './fs/xattr.js';
export { compareBytewise } from './diff/walk-util.js';
export { changesSize } from './diff/size.js';
export { exportChanges, exportChangesToFile, tarDirectory, tarDirectoryToFile, type ExportOptions } from './diff/export.js';
export { applyLayer, OVERLAY_OPAQUE_XATTR, type ApplyOptions, type ApplyProgress, type WhiteoutFormat } from './diff/apply.js';
export { makeDirs } from './fs/make-dirs.js';
export { GrowingFile, type GrowingFileOptions } from './fs/growing-file.js';
export type { FileChunksOptions } from './fs/file-chunks.js';
export { deleteTree } from './fs/delete-tree.js';
export { linkLeavesRoot, linkLeadsOutThroughLinks, assertLinkInside, cleanEntryName } from './fs/safe-path.js';
export { ProjectQuota, XfsQuota, type QuotaProbe } from './linux/project-quota.js';
