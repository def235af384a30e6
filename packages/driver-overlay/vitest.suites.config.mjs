// Vitest config for the suites that run in another process: under an unprivileged uid
// (src/rootless.suite.ts) or inside the test VM (src/xfs-quota.vm.suite.ts).
// Started by conformance.rootless.test.ts and conformance.xfs-quota.vm.test.ts, not by the
// repo's own vitest run (their names do not end in .test.ts). A .mjs config loaded with
// `--configLoader runner`: nothing is bundled into node_modules, which an unprivileged
// user cannot write.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  root: repo,
  cacheDir: process.env.GD_OVERLAY_SUITE_CACHE || undefined,
  test: {
    include: ['packages/driver-overlay/src/*.suite.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
