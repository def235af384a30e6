#!/usr/bin/env node
import { main } from './program.js';

// Exit as soon as the command is done: the store keeps mounts and references on disk, so
// nothing is left to clean up, and a lingering handle must not keep the tool alive.
main(process.argv).then((status) => {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
});
