// Crash safety, concurrency, hostile input and a full disk, from core's shared campaigns,
// on overlay2 over a loopback filesystem of the given kind (one for most tests, a small one
// per full-disk test).
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import { describeExhaustion, describeRobustness, type LoopbackKind, smallLoopbackHomes, useLoopbackFs } from '@graphdriver/core/testing';
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
  const lb = useLoopbackFs(kind, `overlay2 robustness on ${kind}`);
  if (!lb) return;
  describe(`overlay2 robustness on ${kind}`, () => {
    describeRobustness({
      name: `overlay2 (loopback ${kind})`,
      makeHome: async () => join(await mkdtemp(join(lb.mountpoint(), 'home-')), 'overlay2'),
      init: (home, options) => init(home, options),
      driverModule,
      assertNoLeaks: assertNoOverlayLeaks,
      badInitOptions: [['overlay2.size=abc'], ['overlay2.bogus=1'], ['overlay2.ignore_chown_errors=maybe']],
    });
  });

  // mkfs.xfs refuses filesystems under 300 MB
  const mib = kind === 'xfs' ? 320 : 160;
  describe(`overlay2 on a full ${kind} disk`, () => {
    describeExhaustion({
      name: `overlay2 (${mib} MiB loopback ${kind})`,
      ...smallLoopbackHomes(kind, { size: mib << 20, capacity: (mib - 20) << 20, dir: 'overlay2' }),
      init: (home, options) => init(home, options),
    });
  });
}
