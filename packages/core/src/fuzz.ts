/**
 * The seeded fuzzer of the tar reader and layer applier ({@link runFuzz}), for tools/fuzz
 * and soak campaigns: plain Node, no vitest.
 *
 * @module @graphdriver/core/fuzz
 */
export { runFuzz, type FuzzOptions, type FuzzReport, type FuzzFailure } from './testing/fuzz.js';
