// @graphdriver/cli as a library: the CLI's entry point. Images (the model, transports and
// pull/push/import/export) are @graphdriver/image's.
export { main } from './program.js';
export type { Interrupts, Interruption } from './interrupts.js';
