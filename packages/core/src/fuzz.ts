// @graphdriver/core/fuzz: the seeded tar reader and applier fuzzer, for tools/fuzz and the
// soak campaigns (plain node, no vitest).
export { runFuzz, type FuzzOptions, type FuzzReport, type FuzzFailure } from './testing/fuzz.js';
