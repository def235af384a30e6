#!/usr/bin/env node
// Signals are watched before the rest of the CLI loads (the drivers take a moment), so an
// early Ctrl-C is answered like any other: one line and status 130.
import { enableCompileCache } from './compile-cache.js';
import { watchInterrupts } from './interrupts.js';

const interrupts = watchInterrupts();
// Before the rest loads: where Node has it (>= 22.1), what it compiles is cached on disk for
// the next command.
enableCompileCache();

// Exit as soon as the command is done: the store keeps mounts and references on disk, so
// nothing is left to clean up, and a lingering handle must not keep the tool alive.
void import('./program.js').then(({ main }) =>
  main(process.argv, interrupts).then((status) => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
  }),
);
