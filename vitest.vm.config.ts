import { defineConfig } from 'vitest/config';

// The suites that need a kernel this host lacks (device-mapper, OpenZFS, XFS quotas): each
// host-side file boots the test VM (tools/vm) and runs its package's *.vm.suite.ts files inside it.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.vm.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
  },
});
