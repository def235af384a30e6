// Typed wrappers of the programs the registry tests drive, each on core's tool() so a failure
// carries its command line, exit code and stderr. docker-registry itself is a long-running
// server and is spawned by ./registry.ts.
import { execFileSync } from 'node:child_process';
import { tool } from '@graphdriver/core';

const opensslTool = tool('openssl', { timeout: 60_000 });
const htpasswdTool = tool('htpasswd', { timeout: 60_000 });
const skopeoTool = tool('skopeo', { timeout: 600_000 });

export const openssl = {
  run: (args: readonly string[]) => opensslTool.run(args),
};

export const htpasswd = {
  /** A new htpasswd file holding one bcrypt entry (the only hash distribution accepts). */
  create: (file: string, user: string, password: string) => htpasswdTool.run(['-Bbc', file, user, password]),
};

export const skopeo = {
  copy: (src: string, dest: string, extra: readonly string[] = []) => skopeoTool.run(['copy', '--quiet', ...extra, src, dest]),
  inspectRaw: async (ref: string, extra: readonly string[] = []) => (await skopeoTool.run(['inspect', '--raw', ...extra, ref])).stdout,
};

/** The programs of `names` that are not on PATH. */
export function missingPrograms(names: readonly string[]): string[] {
  return names.filter((bin) => {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** What the registry suites need: the registry itself, certificates, htpasswd, and skopeo to push fixtures. */
export const REGISTRY_PROGRAMS = ['docker-registry', 'openssl', 'htpasswd', 'skopeo'] as const;

/**
 * Says loudly that a suite cannot run and why; under CI (CI=true) that is a failure, not a
 * skip. Returns true when the suite must be skipped.
 */
export function skipWithout(suite: string, programs: readonly string[] = REGISTRY_PROGRAMS): boolean {
  const missing = missingPrograms(programs);
  if (missing.length === 0) return false;
  const why = `${suite} needs ${missing.join(', ')} (tools/setup/install.sh installs them)`;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(`\n*** SKIPPING ${suite}: ${why} ***\n`);
  return true;
}
