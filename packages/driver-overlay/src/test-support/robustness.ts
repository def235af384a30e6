// Crash safety, concurrency, hostile input and a full disk, from core's shared campaigns,
// on overlay2 over a loopback filesystem of the given kind (one for most tests, a small one
// per full-disk test).
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe } from 'vitest';
import {
  canMakeLoopback,
  describeConcurrency,
  describeCrashSafety,
  describeExhaustion,
  describeHostileInput,
  describeMalformedArguments,
  makeLoopbackFs,
  type CrashTarget,
  type LoopbackFs,
  type LoopbackKind,
  requireBackingSystem,
} from '@graphdriver/core/testing';
import { init } from '../index.js';
import { LINK_DIR, TMP_DIR } from '../layout.js';
import { mkdtemp } from 'node:fs/promises';

const driverModule = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Exactly one directory and one l/ link per listed layer, home/tmp empty. */
export async function assertNoOverlayLeaks(home: string, layers: readonly string[]): Promise<void> {
  const want = [...layers].sort();
  const dirs = (await readdir(home, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && ![LINK_DIR, TMP_DIR, 'layers'].includes(e.name))
    .map((e) => e.name)
    .sort();
  if (dirs.join('\n') !== want.join('\n')) throw new Error(`home holds layer dirs [${dirs.join(', ')}], layers are [${want.join(', ')}]`);
  const tmp = await readdir(join(home, TMP_DIR));
  if (tmp.length) throw new Error(`home/tmp is not empty after recovery: ${tmp.join(', ')}`);
  const linked: string[] = [];
  for (const name of await readdir(join(home, LINK_DIR))) linked.push((await readlink(join(home, LINK_DIR, name))).split('/')[1]);
  if (linked.sort().join('\n') !== want.join('\n'))
    throw new Error(`home/l links to [${linked.join(', ')}], layers are [${want.join(', ')}]`);
}

export function describeOverlayRobustness(kind: LoopbackKind): void {
  if (!canMakeLoopback()) {
    requireBackingSystem(`overlay2 robustness on ${kind}`, 'loop devices and kernel overlay need root');
    return;
  }
  let fs: LoopbackFs | undefined;
  beforeAll(async () => {
    fs = await makeLoopbackFs(kind, { size: 1 << 30 });
  });
  afterAll(async () => {
    await fs?.teardown();
  });
  const target: CrashTarget = {
    name: `overlay2 (loopback ${kind})`,
    makeHome: async () => join(await mkdtemp(join(fs!.mountpoint, 'home-')), 'overlay2'),
    init: (home, options) => init(home, options),
    driverModule,
    assertNoLeaks: assertNoOverlayLeaks,
  };
  describe(`overlay2 robustness on ${kind}`, () => {
    describeCrashSafety(target);
    describeConcurrency(target);
    describeHostileInput({
      ...target,
      badInitOptions: [['overlay2.size=abc'], ['overlay2.bogus=1'], ['overlay2.ignore_chown_errors=maybe']],
    });
    describeMalformedArguments(target);
  });

  const small = new Map<string, LoopbackFs>();
  // mkfs.xfs refuses filesystems under 300 MB
  const mib = kind === 'xfs' ? 320 : 160;
  describe(`overlay2 on a full ${kind} disk`, () => {
    describeExhaustion({
      name: `overlay2 (${mib} MiB loopback ${kind})`,
      async makeSmallHome() {
        const lb = await makeLoopbackFs(kind, { size: mib << 20 });
        const home = join(lb.mountpoint, 'overlay2');
        small.set(home, lb);
        return { home, capacity: (mib - 20) << 20 };
      },
      init: (home, options) => init(home, options),
      async removeHome(home) {
        await small.get(home)?.teardown();
        small.delete(home);
      },
    });
  });
}
