// @graphdriver/cli as a library: the CLI's entry point and the OCI image helpers it is built on.
export { main } from './program.js';
export { decompressAuto, detectCompression, createZstdDecompress, type Compression, type Decompressed } from './compression.js';
export { parseOciReference, type OciReference } from './oci/reference.js';
export { planImport, runImport, type ImportPlan, type ImportResult, type ImportedLayer } from './oci/import.js';
export { exportImage, layerChain, type ExportResult, type ExportedLayer } from './oci/export.js';
export { chainIds } from './oci/digest.js';
export type { OciLayout, ImageManifest, ImageIndex, Descriptor, Platform } from './oci/layout.js';
export { createProgress, renderProgress, type Progress, type ProgressOptions, type ProgressState } from './progress.js';
