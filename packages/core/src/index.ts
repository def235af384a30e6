export * from './driver.js';
export * from './errors.js';
export { validateId, normalizeParent } from './ids.js';
export * from './fsmagic.js';
export * from './registry.js';
export { tool, ToolError, type Tool, type RunOptions, type RunResult } from './exec.js';
export * from './options.js';
export type { TarHeader, TarEntry, EntryType } from './tar/types.js';
