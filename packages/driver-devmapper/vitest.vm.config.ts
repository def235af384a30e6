import { defineConfig } from 'vitest/config';

// The suites that need a kernel with device-mapper. They run inside the test VM
// (tools/vm/run), started by src/vm.test.ts on the host.
export default defineConfig({
  test: {
    include: ['src/**/*.vmtest.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
