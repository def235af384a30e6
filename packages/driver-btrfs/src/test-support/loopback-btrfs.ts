// Shared set-up of this package's tests: a loopback btrfs per test file, made in beforeAll
// and torn down in afterAll (no loop device or mount left), and the rule for a machine
// without one: say so loudly and skip, except in CI, where it is a failure.
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { tool } from '@graphdriver/core';
import { canMakeLoopback, makeLoopbackFs, requireBackingSystem, type LoopbackFs } from '@graphdriver/core/testing';

async function has(cmd: string): Promise<boolean> {
  return tool(cmd).available(['--version']);
}

/** Why btrfs tests cannot run here, or null when they can. */
export async function missingBackingSystem(): Promise<string | null> {
  if (!canMakeLoopback()) return 'not root: cannot make loop devices';
  for (const cmd of ['btrfs', 'mkfs.btrfs', 'losetup']) {
    if (!(await has(cmd))) return `${cmd} is not installed`;
  }
  return null;
}

/** True when the btrfs tests run (use with describe.runIf); false after a loud skip; throws under CI. */
export const btrfsAvailable = requireBackingSystem('btrfs driver tests', await missingBackingSystem());

/** A loopback btrfs for the current test file; `fs()` is valid inside tests. */
export function useLoopbackBtrfs(size = 1 << 30): { fs(): LoopbackFs; makeHome(prefix?: string): Promise<string> } {
  let lb: LoopbackFs | undefined;
  beforeAll(async () => {
    if (btrfsAvailable) lb = await makeLoopbackFs('btrfs', { size });
  });
  afterAll(async () => {
    await lb?.teardown();
  });
  const fs = () => {
    if (!lb) throw new Error('loopback btrfs not set up');
    return lb;
  };
  return {
    fs,
    makeHome: async (prefix = 'home-') => join(await mkdtemp(join(fs().mountpoint, prefix)), 'btrfs'),
  };
}
