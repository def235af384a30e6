#!/usr/bin/env node
// Signals are watched before the rest of the CLI loads (the drivers take a moment), so an
// early Ctrl-C is answered like any other: one line and status 130.
import { watchInterrupts } from './interrupts.js';

const interrupts = watchInterrupts();

// Exit as soon as the command is done: the store keeps mounts and references on disk, so
// nothing is left to clean up, and a lingering handle must not keep the tool alive.
void import('./program.js').then(({ main }) =>
  main(process.argv, interrupts).then((status) => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
  }),
);
