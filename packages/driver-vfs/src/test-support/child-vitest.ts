// Where this package's out-of-process suites (src/*.suite.ts) run from: core's
// runChildSuite with vfs's vitest config (vitest.suites.config.mjs).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChildSuite, runChildSuiteAs, type ChildRun, type ChildSuiteAsOptions, type ChildSuiteOptions } from '@graphdriver/core/testing';

export const packageDir = fileURLToPath(new URL('../..', import.meta.url));
export const repoDir = join(packageDir, '..', '..');
export const suitesConfig = 'packages/driver-vfs/vitest.suites.config.mjs';

export function runSuite(opts: Omit<ChildSuiteOptions, 'repoDir' | 'config'>): Promise<ChildRun> {
  return runChildSuite({ ...opts, repoDir, config: suitesConfig });
}

/** The suite as nobody (uid 65534), without capabilities: core's runChildSuiteAs. */
export function runSuiteAs(opts: Omit<ChildSuiteAsOptions, 'repoDir' | 'config' | 'uid'>): Promise<ChildRun> {
  return runChildSuiteAs({ ...opts, repoDir, config: suitesConfig, uid: 65534 });
}
