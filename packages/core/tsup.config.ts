import { defineConfig } from 'tsup';

export default defineConfig({
  // linux: the shared Linux plumbing (@graphdriver/core/linux); testing/crash-child: the
  // script crash campaigns run in a child process (plain node); testing/fuzz: the tar
  // fuzzer, for tools/fuzz (no vitest in it)
  entry: ['src/index.ts', 'src/testing.ts', 'src/linux.ts', 'src/testing/crash-child.ts', 'src/testing/fuzz.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['vitest'],
});
