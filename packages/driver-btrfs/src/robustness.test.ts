// Crash safety, concurrency, a full disk and hostile input, from core's shared campaigns,
// on btrfs: a 1 GiB loopback btrfs for most, a small one (160 MiB) per full-disk test.
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readdir } from 'node:fs/promises';
import { describe } from 'vitest';
import { tool } from '@graphdriver/core';
import { describeExhaustion, describeRobustness, smallLoopbackHomes } from '@graphdriver/core/testing';
import { init } from './init.js';
import { btrfsAvailable, useLoopbackBtrfs } from './test-support/loopback-btrfs.js';

const driverModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const btrfs = tool('btrfs', { timeout: 120_000 });

/** Subvolume paths (relative to the filesystem's top) of the filesystem mounted at `mnt`. */
async function subvolumes(mnt: string): Promise<string[]> {
  const { stdout } = await btrfs.run(['subvolume', 'list', mnt]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(l.indexOf(' path ') + 6));
}

/**
 * Exactly one subvolume per listed layer under home/subvolumes, none anywhere else in the
 * home (home/tmp holds half-made layers and diff snapshots), no quota file of a gone layer.
 */
function noLeaks(mountpoint: () => string) {
  return async (home: string, layers: readonly string[]): Promise<void> => {
    const prefix = relative(mountpoint(), home);
    const ours = (await subvolumes(mountpoint())).filter((p) => p === prefix || p.startsWith(prefix + '/')).sort();
    const want = layers.map((id) => `${prefix}/subvolumes/${id}`).sort();
    if (ours.join('\n') !== want.join('\n'))
      throw new Error(`subvolumes of the home: [${ours.join(', ')}], layers: [${layers.join(', ')}]`);
    const dirs = (await readdir(join(home, 'subvolumes'))).sort();
    if (dirs.join('\n') !== [...layers].sort().join('\n')) throw new Error(`home/subvolumes holds [${dirs.join(', ')}]`);
    const tmp = await readdir(join(home, 'tmp'));
    if (tmp.length) throw new Error(`home/tmp is not empty after recovery: ${tmp.join(', ')}`);
    const quotas = (await readdir(join(home, 'quotas'))).filter((q) => !layers.includes(q));
    if (quotas.length) throw new Error(`quota files of no layer: ${quotas.join(', ')}`);
  };
}

describe.runIf(btrfsAvailable)('btrfs robustness', () => {
  const lb = useLoopbackBtrfs();
  describeRobustness({
    name: 'btrfs (loopback)',
    makeHome: () => lb.makeHome(),
    init: (home, options) => init(home, options),
    driverModule,
    assertNoLeaks: noLeaks(() => lb.fs().mountpoint),
    badInitOptions: [['btrfs.min_space=abc'], ['btrfs.min_space=-1'], ['btrfs.bogus=1']],
  });
});

describe.runIf(btrfsAvailable)('btrfs on a full disk', () => {
  describeExhaustion({
    name: 'btrfs (160 MiB loopback)',
    ...smallLoopbackHomes('btrfs', { size: 160 << 20, capacity: 150 << 20, dir: 'btrfs' }),
    init: (home, options) => init(home, options),
    async afterFree(home) {
      // deleted subvolumes give their space back when the cleaner has run
      await btrfs.run(['subvolume', 'sync', dirname(home)]);
      await btrfs.run(['filesystem', 'sync', dirname(home)]);
    },
  });
});
