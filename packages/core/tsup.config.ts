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
  // execa is bundled into the build: resolving its ~150 ES modules cost every fresh process
  // ~200 ms of CPU at start (issue 18), and a library that shells out must not resolve a
  // module at its first spawn, hours into a daemon's life (issue 16 item 8).
  noExternal: ['execa'],
  // execa's CommonJS dependencies (cross-spawn) call require() on Node built-ins, which an ES
  // module has no binding for.
  banner: ({ format }) =>
    format === 'esm'
      ? { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
      : {},
});
