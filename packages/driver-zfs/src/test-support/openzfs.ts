// Real OpenZFS for the suites in *.vm.suite.ts. This host's kernel cannot load modules, so they
// run inside the test VM (tools/vm/run), with the modules and userland that
// tools/vm/openzfs/build left in its cache (the directory is passed in GRAPHDRIVER_OPENZFS);
// on a machine whose kernel already has OpenZFS loaded they use the system's. The pool lives
// on a loop device over a sparse file in /tmp (in the VM: a tmpfs in guest memory, so it is
// kept small).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { tool } from '@graphdriver/core';
import { requireBackingSystem } from '@graphdriver/core/testing';
import type { TestPool } from './zfs-fuse.js';

export type { TestPool } from './zfs-fuse.js';

/** The directory tools/vm/openzfs/build printed (modules, sbin/, lib/, load, info). */
export const OPENZFS_DIR_ENV = 'GRAPHDRIVER_OPENZFS';

/** ARC limit in the guest: the pool's vdev, node and the ARC share a few GB of guest memory. */
const ARC_MAX_BYTES = 256 << 20;

const inVm = () => process.env.GRAPHDRIVER_IN_VM === '1';
const kitDir = () => process.env[OPENZFS_DIR_ENV] || undefined;

/** Why OpenZFS cannot be used here, or undefined when it can. */
export function openZfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (inVm()) {
    const dir = kitDir();
    if (!dir) return `${OPENZFS_DIR_ENV} is not set (the directory tools/vm/openzfs/build prints)`;
    if (!existsSync(join(dir, 'load'))) return `${dir} is not a tools/vm/openzfs/build output (no load script)`;
    return undefined;
  }
  if (!existsSync('/dev/zfs')) return 'not in the test VM (GRAPHDRIVER_IN_VM=1) and no OpenZFS module is loaded (/dev/zfs)';
  return undefined;
}

/** Skip-vs-fail for a suite needing OpenZFS: core's requireBackingSystem (a failure under CI=true). */
export function openZfsGate(suite: string): { skip: boolean; reason?: string } {
  const reason = openZfsUnavailable();
  return { skip: !requireBackingSystem(`[${suite}] OpenZFS`, reason), reason };
}

/** The build's `info` file (versions), when running on its kit. */
export async function openZfsKitInfo(): Promise<Record<string, string> | undefined> {
  const dir = kitDir();
  if (!dir) return undefined;
  const text = await readFile(join(dir, 'info'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * In the VM: loads the modules (the kit's `load`: insmod in order, waits for /dev/zfs, puts a
 * /sbin/mount.zfs wrapper in the guest's throw-away root) and puts the kit's userland first on
 * this process's PATH, so the driver's `zfs`/`zpool` (and its children's) are OpenZFS's, not the
 * host's zfs-fuse. Elsewhere the system's OpenZFS is used as is.
 */
export async function useOpenZfs(): Promise<void> {
  const dir = kitDir();
  if (!inVm() || !dir) return;
  await tool(join(dir, 'load'), { timeout: 300_000 }).run([]);
  const sbin = join(dir, 'sbin');
  const path = process.env.PATH ?? '';
  if (!path.split(delimiter).includes(sbin)) process.env.PATH = `${sbin}${delimiter}${path}`;
  const lib = join(dir, 'lib');
  const ld = process.env.LD_LIBRARY_PATH;
  if (!ld?.split(delimiter).includes(lib)) process.env.LD_LIBRARY_PATH = ld ? `${lib}${delimiter}${ld}` : lib;
  await writeFile('/sys/module/zfs/parameters/zfs_arc_max', String(ARC_MAX_BYTES));
}

const zpool = tool('zpool', { timeout: 120_000 });
const zfs = tool('zfs', { timeout: 120_000 });
const losetup = tool('losetup', { timeout: 60_000 });

export interface OpenZfsPoolOptions {
  /** Sparse vdev size in bytes (OpenZFS needs >= 64 MiB). Default 768 MiB. */
  size?: number;
}

/**
 * A pool named gdo<pid>x<random> on a loop device over a sparse file. Not on the file itself:
 * ZFS opens vdevs from kernel threads, which resolve paths from the kernel's root, and in the
 * VM that is the initramfs, not the root the tests are chrooted into ("cannot create: no such
 * pool or dataset"); /dev/loopN names the same device in both. autotrim hands freed blocks back
 * (the loop device punches holes in the tmpfs file), so guest memory holds only what is in use.
 */
export async function makeOpenZfsPool(opts: OpenZfsPoolOptions = {}): Promise<TestPool> {
  const workdir = await mkdtemp(join(tmpdir(), 'gd-ozfs-'));
  const vdev = join(workdir, 'vdev');
  const pool = `gdo${process.pid}x${randomBytes(3).toString('hex')}`;
  let loop: string | undefined;
  let created = false;
  const teardown = async () => {
    try {
      if (created) await zpool.run(['destroy', '-f', pool]);
      created = false;
      if (loop) await losetup.run(['-d', loop]);
      loop = undefined;
    } finally {
      await rm(workdir, { recursive: true, force: true });
    }
  };
  try {
    await writeFile(vdev, '');
    await truncate(vdev, opts.size ?? 768 << 20);
    loop = (await losetup.run(['-f', '--show', vdev])).stdout.trim();
    // cachefile=none: nothing to import at a next boot (and no /etc/zfs needed)
    await zpool.run(['create', '-o', 'cachefile=none', '-o', 'autotrim=on', '-m', 'none', pool, loop]);
    created = true;
  } catch (err) {
    await teardown().catch(() => {});
    throw err;
  }
  return {
    pool,
    workdir,
    async createDataset(name, props = {}) {
      const o = Object.entries(props).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
      await zfs.run(['create', ...o, '--', name]);
    },
    async destroyDataset(name) {
      await zfs.run(['destroy', '-r', '--', name]);
    },
    teardown,
  };
}
