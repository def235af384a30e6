// Real ZFS for tests on a machine without the OpenZFS module: Debian's zfs-fuse daemon and a
// pool on a sparse file. The daemon is one per machine (fixed socket and lock paths) while
// vitest runs test files in parallel processes, so starting and stopping it goes through a
// lock file, and every test process holds a lease file: the daemon is stopped when the last
// lease goes, and only if these helpers started it. Every wait is bounded.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from '@graphdriver/core';
import { requireBackingSystem } from '@graphdriver/core/testing';

const STATE_DIR = join(tmpdir(), 'graphdriver-zfs-fuse');
const LOCK = join(STATE_DIR, 'lock');
const STARTED = join(STATE_DIR, 'started.json');
const LEASES = join(STATE_DIR, 'leases');

const START_WAIT_MS = 30_000;
const STOP_WAIT_MS = 30_000;
const LOCK_WAIT_MS = 120_000;

const zfsFuse = tool('zfs-fuse', { timeout: 30_000 });
const zpool = tool('zpool', { timeout: 60_000 });
const zfs = tool('zfs', { timeout: 60_000 });
const setfattr = tool('setfattr', { timeout: 10_000 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why zfs-fuse cannot be used here, or undefined when it can. */
export async function zfsFuseUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (existsSync('/dev/zfs')) return 'the OpenZFS module is loaded (zfs-fuse would fight it for the zfs command)';
  for (const [t, pkg] of [
    [zfsFuse, 'zfs-fuse'],
    [zpool, 'zfs-fuse'],
    [zfs, 'zfs-fuse'],
    [setfattr, 'attr'],
  ] as const) {
    // `--help` probes: a command exists when it runs at all
    if (!(await tool(t.command).available(['--help']))) return `${t.command} is not installed (Debian package ${pkg})`;
  }
  return undefined;
}

// ---- processes ------------------------------------------------------------------------

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** A pid plus its start time names one process even after the pid is recycled. */
interface ProcessId {
  pid: number;
  start: string | null;
}

function me(): ProcessId {
  return { pid: process.pid, start: startTime(process.pid) };
}

function alive(p: ProcessId): boolean {
  return p.pid > 0 && startTime(p.pid) !== null && startTime(p.pid) === p.start;
}

/** Pids of running zfs-fuse daemons, whoever started them. */
async function zfsFusePids(): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const comm = await readFile(`/proc/${d}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'zfs-fuse') pids.push(Number(d));
  }
  return pids;
}

async function daemonAnswers(): Promise<boolean> {
  try {
    await zpool.run(['list', '-H', '-o', 'name'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ms: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`zfs-fuse test set-up: timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

// ---- the machine-wide lock ------------------------------------------------------------

async function withStateLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(LEASES, { recursive: true });
  const mine = JSON.stringify(me());
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await open(LOCK, 'wx', 0o600);
      await fh.writeFile(mine);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readFile(LOCK, 'utf8').catch(() => '');
    let holder: ProcessId | undefined;
    try {
      holder = JSON.parse(owner) as ProcessId;
    } catch {
      // being written right now, or torn by a crash: judged on the next round
    }
    if (holder && !alive(holder)) await unlink(LOCK).catch(() => {});
    if (Date.now() > deadline) throw new Error(`zfs-fuse test set-up: ${LOCK} held too long by ${owner}`);
    await sleep(50);
  }
  try {
    return await fn();
  } finally {
    await unlink(LOCK).catch(() => {});
  }
}

// ---- the daemon -----------------------------------------------------------------------

interface Started extends ProcessId {
  pidfile: string;
}

async function readStarted(): Promise<Started | undefined> {
  try {
    return JSON.parse(await readFile(STARTED, 'utf8')) as Started;
  } catch {
    return undefined;
  }
}

async function startDaemon(): Promise<void> {
  // a daemon that is still stopping holds the fixed lock: a new one would exit silently
  await until('an exiting zfs-fuse to go', STOP_WAIT_MS, async () => (await zfsFusePids()).length === 0 || (await daemonAnswers()));
  if (await daemonAnswers()) return;
  // a unique pid file: a stale one makes zfs-fuse exit silently with status 1
  const pidfile = join(STATE_DIR, `zfs-fuse-${process.pid}-${randomBytes(4).toString('hex')}.pid`);
  await rm(pidfile, { force: true });
  // --enable-xattr: without it every xattr call fails ENOTSUP (zfs-fuse's default)
  await zfsFuse.run(['--no-kstat-mount', '--enable-xattr', '--pidfile', pidfile]);
  await until('zfs-fuse to answer', START_WAIT_MS, daemonAnswers);
  const pid = Number((await readFile(pidfile, 'utf8')).trim());
  const started: Started = { pid, start: startTime(pid), pidfile };
  await writeFile(STARTED, JSON.stringify(started));
}

async function stopDaemonIfOurs(): Promise<void> {
  const started = await readStarted();
  if (!started) return; // not started by these helpers: never ours to stop
  if (alive(started)) {
    process.kill(started.pid, 'SIGTERM');
    await until('zfs-fuse to stop', STOP_WAIT_MS, () => !alive(started));
  }
  await rm(started.pidfile, { force: true });
  await rm(STARTED, { force: true });
}

async function liveLeases(): Promise<string[]> {
  const live: string[] = [];
  for (const name of await readdir(LEASES)) {
    const holder = JSON.parse(await readFile(join(LEASES, name), 'utf8').catch(() => '{}')) as ProcessId;
    if (alive(holder)) live.push(name);
    else await rm(join(LEASES, name), { force: true });
  }
  return live;
}

/** Test pools are named gdt<pid>x<random>: a pool whose process is gone was leaked by a crash. */
const POOL_NAME = /^gdt(\d+)x[0-9a-f]+$/;

async function destroyLeakedPools(): Promise<void> {
  const { stdout } = await zpool.run(['list', '-H', '-o', 'name']);
  for (const pool of stdout.split('\n').filter(Boolean)) {
    const m = POOL_NAME.exec(pool);
    if (!m || startTime(Number(m[1])) !== null) continue;
    await zpool.run(['destroy', '-f', pool]).catch((err: Error) => {
      console.warn(`[zfs-fuse test set-up] could not destroy leaked pool ${pool}: ${err.message}`);
    });
  }
}

export interface DaemonLease {
  release(): Promise<void>;
}

/** Makes sure a zfs-fuse daemon answers, and holds it running until release(). */
export async function acquireZfsFuse(): Promise<DaemonLease> {
  const lease = join(LEASES, `${process.pid}-${randomBytes(4).toString('hex')}`);
  await withStateLock(async () => {
    if (!(await daemonAnswers())) await startDaemon();
    await destroyLeakedPools();
    await writeFile(lease, JSON.stringify(me()));
  });
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await withStateLock(async () => {
        await rm(lease, { force: true });
        if ((await liveLeases()).length === 0) await stopDaemonIfOurs();
      });
    },
  };
}

/**
 * Runs `fn(daemonPid)` with the daemon to this process alone, for a test that stops it on
 * purpose (SIGSTOP): the machine-wide lock is held throughout (so no test process can
 * lease, start or stop the daemon meanwhile; they wait up to LOCK_WAIT_MS), and no other
 * process holds a lease or a pool. Waits up to `waitMs` for the others to finish first.
 * `fn` must be short (well under LOCK_WAIT_MS).
 */
export async function withDaemonToMyself<T>(fn: (daemonPid: number) => Promise<T>, waitMs = 600_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const others = await withStateLock(async () => {
      const leases = (await liveLeases()).filter((name) => !name.startsWith(`${process.pid}-`));
      const { stdout } = await zpool.run(['list', '-H', '-o', 'name']);
      const pools = stdout.split('\n').filter((p) => p && !p.startsWith(`gdt${process.pid}x`));
      const pids = await zfsFusePids();
      if (leases.length || pools.length || pids.length !== 1)
        return `leases ${leases.join(', ') || '-'}, pools ${pools.join(', ') || '-'}, daemons ${pids.join(', ') || '-'}`;
      return { result: await fn(pids[0]) };
    });
    if (typeof others !== 'string') return others.result;
    if (Date.now() > deadline) throw new Error(`zfs-fuse test set-up: the daemon was never free for this process alone (${others})`);
    await sleep(1000);
  }
}

// ---- pools ----------------------------------------------------------------------------

export interface TestPool {
  /** Pool name, unique per test process and call. */
  pool: string;
  /** A scratch directory of this pool's own (holds the vdev). */
  workdir: string;
  /** `zfs create` with properties, e.g. { mountpoint: '/some/dir' }. */
  createDataset(name: string, props?: Record<string, string>): Promise<void>;
  destroyDataset(name: string): Promise<void>;
  /** Destroys the pool, deletes the vdev and releases the daemon. */
  teardown(): Promise<void>;
}

export interface TestPoolOptions {
  /** Sparse vdev size in bytes; zfs-fuse needs >= 64 MB. Default 512 MiB. */
  size?: number;
}

/** A daemon someone else started may lack --enable-xattr: say so instead of failing obscurely. */
async function checkXattrs(pool: string, workdir: string): Promise<void> {
  const probe = `${pool}/xattr-probe`;
  const dir = join(workdir, 'xattr-probe');
  await mkdir(dir);
  await zfs.run(['create', '-o', `mountpoint=${dir}`, '--', probe]);
  try {
    await writeFile(join(dir, 'f'), '');
    await setfattr.run(['-n', 'user.probe', '-v', '1', join(dir, 'f')]);
  } catch (err) {
    throw new Error(
      'zfs-fuse test set-up: the running zfs-fuse daemon has no xattr support; stop it and let the tests ' +
        `start their own, or start it with --enable-xattr (${(err as Error).message})`,
    );
  } finally {
    // zfs-fuse often calls a mounted dataset busy: unmount first, then destroy
    await zfs.run(['unmount', '--', probe]).catch(() => {});
    await retryBusy(`destroy ${probe}`, () => zfs.run(['destroy', '-r', '--', probe]));
  }
}

/**
 * Runs `fn`, retrying for up to 30 s while zfs-fuse answers "busy": it releases a dataset
 * only when it has processed the end of its FUSE session, which lags under load.
 */
async function retryBusy<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline || !/busy/.test((err as Error).message)) {
        throw new Error(`zfs-fuse test set-up: ${what} failed: ${(err as Error).message}`, { cause: err });
      }
      await sleep(250);
    }
  }
}

/** `zpool destroy -f`, retried while zfs-fuse still calls the pool busy. */
async function destroyPool(pool: string): Promise<void> {
  try {
    await retryBusy(`destroy pool ${pool}`, () => zpool.run(['destroy', '-f', pool]));
  } catch (err) {
    const text = await readFile('/proc/self/mountinfo', 'utf8');
    const left = text.split('\n').filter((l) => l.includes(` fuse.zfs ${pool}`));
    throw new Error(`${(err as Error).message}; its mounts: ${left.join(' | ') || 'none'}`, { cause: err });
  }
}

export async function makeZfsFusePool(opts: TestPoolOptions = {}): Promise<TestPool> {
  const lease = await acquireZfsFuse();
  const workdir = await mkdtemp(join(tmpdir(), 'gd-zfs-'));
  const vdev = join(workdir, 'vdev');
  const pool = `gdt${process.pid}x${randomBytes(3).toString('hex')}`;
  let created = false;
  const teardown = async () => {
    try {
      if (created) await destroyPool(pool);
      created = false;
    } finally {
      await rm(workdir, { recursive: true, force: true });
      await lease.release();
    }
  };
  try {
    await writeFile(vdev, '');
    await truncate(vdev, opts.size ?? 512 << 20);
    // cachefile=none: a test pool is never remembered by the daemon, so a test process killed
    // before its teardown cannot leave a pool that every later daemon start imports again.
    await zpool.run(['create', '-o', 'cachefile=none', '-m', 'none', pool, vdev]);
    created = true;
    await checkXattrs(pool, workdir);
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
      await retryBusy(`destroy ${name}`, () => zfs.run(['destroy', '-r', '--', name]));
    },
    teardown,
  };
}

/** Skip-vs-fail for a suite needing zfs-fuse: core's requireBackingSystem (a failure under CI=true). */
export async function zfsFuseGate(suite: string): Promise<{ skip: boolean; reason?: string }> {
  const reason = await zfsFuseUnavailable();
  return { skip: !requireBackingSystem(`[${suite}] zfs-fuse`, reason), reason };
}
