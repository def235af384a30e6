import { defineConfig } from 'vitest/config';

// One vitest run for the host suites: tests live beside the code in each package's src/.
// Suites that boot the qemu VM (*.vm.test.ts) run afterwards on their own (vitest.vm.config.ts),
// so the emulated guest does not compete with every other suite for the two cores.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tools/*/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'packages/*/src/**/*.vm.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
