import { defineConfig } from 'tsup';

export default defineConfig({
  // testing: the fixture, tool wrappers and tree snapshots the CLI's interop tests share
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['vitest'],
});
