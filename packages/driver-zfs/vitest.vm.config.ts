import { defineConfig } from 'vitest/config';
import { vmForksPool } from '../../tools/vm/vitest-pool.js';

// The suites that need the OpenZFS kernel module. They run inside the test VM (tools/vm/run),
// started by src/openzfs.vm.test.ts on the host.
export default defineConfig({
  test: {
    include: ['src/**/*.vm.suite.ts'],
    // vitest's forks pool without its fixed 60 s worker-start timeout, which a TCG guest on a
    // busy host can exceed (see tools/vm/vitest-pool.ts)
    pool: vmForksPool(),
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // stopping a worker is slow under TCG too; vitest only logs when this passes
    teardownTimeout: 120_000,
  },
});
