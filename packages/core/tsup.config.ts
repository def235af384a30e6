import { defineConfig } from 'tsup';

export default defineConfig({
  // linux: the shared Linux plumbing (@graphdriver/core/linux); fuzz: the tar fuzzer
  // (@graphdriver/core/fuzz, no vitest in it); testing/crash-child: the script crash
  // campaigns run in a child process (plain node)
  entry: ['src/index.ts', 'src/testing.ts', 'src/linux.ts', 'src/fuzz.ts', 'src/testing/crash-child.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['vitest'],
});
