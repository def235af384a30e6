// The one rule for a suite whose backing system (a filesystem, a kernel module, a tool, root)
// is missing: elsewhere it skips and says loudly that it did NOT run; under CI (CI=true),
// which runs every driver for real, the missing prerequisite is a failure.
import { spawnSync } from 'node:child_process';

/** True when the tests run under CI (CI=true). */
export function underCi(): boolean {
  return process.env.CI === 'true';
}

/**
 * Decides skip-vs-fail for a suite. `missing` is why the backing system is unavailable, or
 * null/undefined/'' when it is there; a list is the programs (or other things) missing, empty
 * when none is, said as "needs a, b (tools/setup/install.sh installs them)". Returns true when
 * the suite runs; false (after a loud warning) when it must be skipped. Under CI a missing
 * backing system throws instead.
 */
export function requireBackingSystem(suite: string, missing: string | readonly string[] | null | undefined): boolean {
  if (Array.isArray(missing)) {
    return requireBackingSystem(suite, missing.length ? `needs ${missing.join(', ')} (tools/setup/install.sh installs them)` : null);
  }
  if (!missing) return true;
  const why = `${suite} did NOT run: ${missing}`;
  if (underCi()) throw new Error(`${why} (CI=true: a missing prerequisite is a failure)`);
  const bar = '!'.repeat(Math.min(why.length, 100));
  console.warn(`\n${bar}\nSKIPPING ${why}\n${bar}\n`);
  return false;
}

/** The programs of `names` that are not on PATH (for {@link requireBackingSystem}'s list). */
export function missingPrograms(names: readonly string[]): string[] {
  return names.filter((bin) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { stdio: 'ignore' }).status !== 0);
}
