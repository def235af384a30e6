import { defineConfig } from 'vitest/config';
import { vmForksPool } from '../../tools/vm/vitest-pool.js';

// The suites that need a kernel with device-mapper. They run inside the test VM
// (tools/vm/run), started by src/devmapper.vm.test.ts on the host.
export default defineConfig({
  test: {
    include: ['src/**/*.vm.suite.ts'],
    // vitest's forks pool without its fixed 60 s worker-start timeout (tools/vm/vitest-pool.ts)
    pool: vmForksPool(),
    teardownTimeout: 120_000,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
