// Crash safety, concurrency, a full layer filesystem, hostile input and malformed arguments,
// from core's shared campaigns, on devicemapper (inside the test VM: tools/vm/run). Homes are
// in the guest's tmpfs, each with its own loop-backed thin pool.
//
// The crash campaign's run count is GRAPHDRIVER_CRASH_RUNS (default below, sized for CI under
// TCG), its seed GRAPHDRIVER_CRASH_SEED; `pnpm soak` runs hundreds (tools/soak/soak.mjs). A
// crash kills the child's whole process group, its helpers (dmsetup, mount...) with it, as a
// crash of the whole service would. After every re-init the home must hold nothing but its
// listed layers: no device-mapper device but the pool's and listed layers', none suspended or
// without a table; exactly the pool's two loop devices; nothing mounted; in the pool's own
// metadata exactly the thin devices of the base and of the listed layers; no device record,
// mount directory or temporary file of anything else. After cleanup: no device, loop device
// or mount of the home at all. The last suite makes, on purpose, the states a kill at a
// precise step leaves, and checks that the next init repairs each.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tool, type Driver } from '@graphdriver/core';
import {
  campaignSettings,
  describeConcurrency,
  describeExhaustion,
  describeHostileInput,
  describeMalformedArguments,
  mountsUnder,
  runCrashCampaign,
  saveReport,
  type CrashTarget,
} from '@graphdriver/core/testing';
import { thinDeviceIdsOf } from './test-support/thin-dump-cli.mjs';
import { devicePrefix } from './backend.js';
import { init } from './index.js';
import { deviceHash, type DeviceRecord, type DeviceSetRecord } from './metadata.js';

const exec = promisify(execFile);
const dmsetupTool = tool('dmsetup', { timeout: 120_000 });
const losetupTool = tool('losetup', { timeout: 60_000 });

/**
 * CI's crash runs. Each takes some 25 s in the TCG guest on this 2-core host at load 8-9 (two
 * node processes start, each inits the pool; the check mounts every layer): 12 runs are about
 * 5 minutes there, 2 on a quiet machine. `pnpm soak` runs hundreds.
 */
export const CI_CRASH_RUNS = 12;

const soak = process.env.GRAPHDRIVER_SOAK === '1';

// A sparse 2 GiB pool per home in the guest's tmpfs; 64 MiB layers hold the campaign's trees.
const options = ['dm.loopdatasize=2G', 'dm.loopmetadatasize=64M', 'dm.basesize=64M', 'dm.min_free_space=1%'];
// The hostile corpus unpacks 20 000 files into one layer (100 000 under soak): inodes for them.
const hostileOptions = soak
  ? ['dm.loopdatasize=2G', 'dm.loopmetadatasize=64M', 'dm.basesize=256M', 'dm.mkfsarg=-N120000', 'dm.min_free_space=1%']
  : ['dm.loopdatasize=2G', 'dm.loopmetadatasize=64M', 'dm.basesize=96M', 'dm.mkfsarg=-N32768', 'dm.min_free_space=1%'];

// ---- what a home holds in the kernel -----------------------------------------------------

interface DmDevice {
  name: string;
  /** attr column: L live table, I inactive table, s suspended, r/w, o open. */
  attr: string;
}

async function dmDevicesOf(home: string): Promise<DmDevice[]> {
  const prefix = `${await devicePrefix(home)}-`;
  const { stdout } = await dmsetupTool.run(['info', '-c', '--noheadings', '--separator', ' ', '-o', 'name,attr']);
  if (/No devices found/.test(stdout)) return [];
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, attr] = l.trim().split(/\s+/);
      return { name, attr: attr ?? '' };
    })
    .filter((d) => d.name.startsWith(prefix));
}

/** The /dev/mapper nodes named for the home's devices. */
async function dmNodesOf(home: string): Promise<string[]> {
  const prefix = `${await devicePrefix(home)}-`;
  return (await readdir('/dev/mapper')).filter((n) => n.startsWith(prefix));
}

/** Loop devices backed by a file under `home`: "<device> <file>". */
async function loopsOf(home: string): Promise<string[]> {
  const { stdout } = await losetupTool.run(['-l', '-n', '-O', 'NAME,BACK-FILE']);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.split(/\s+/)[1]?.startsWith(home + '/'));
}

/** The thin device ids in the live pool's metadata (through a metadata snapshot). */
async function liveThinIds(pool: string, metadataDevice: string): Promise<number[]> {
  await dmsetupTool.run(['message', pool, '0', 'reserve_metadata_snap']);
  try {
    const { stdout } = await exec('thin_dump', ['-m', metadataDevice], { maxBuffer: 64 << 20 });
    return [...stdout.matchAll(/<device dev_id="(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  } finally {
    await dmsetupTool.run(['message', pool, '0', 'release_metadata_snap']);
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const same = (a: Iterable<string>, b: Iterable<string>) => sorted(a).join('\n') === sorted(b).join('\n');

/** After recovery, with `layers` listed: the home holds exactly those layers and nothing else. */
async function assertNoDmLeaks(home: string, layers: readonly string[]): Promise<void> {
  const problems: string[] = [];
  const prefix = await devicePrefix(home);

  // device-mapper: the pool, and at most the listed layers' thin devices; all usable
  const devices = await dmDevicesOf(home);
  const allowed = new Set([`${prefix}-pool`, ...layers.map((id) => `${prefix}-${deviceHash(id)}`)]);
  const stray = devices.filter((d) => !allowed.has(d.name)).map((d) => d.name);
  if (stray.length) problems.push(`device-mapper devices of no listed layer: ${stray.join(', ')}`);
  if (!devices.some((d) => d.name === `${prefix}-pool`)) problems.push('the thin pool is not active');
  const odd = devices.filter((d) => !d.attr.startsWith('L') || d.attr.includes('s') || d.attr.includes('I'));
  if (odd.length)
    problems.push(`devices suspended, without a live table, or with a table loaded: ${odd.map((d) => `${d.name} ${d.attr}`).join(', ')}`);
  // every device has its node (what mounts, thin tables and pool messages name), no node is stale
  const nodes = await dmNodesOf(home);
  if (
    !same(
      nodes,
      devices.map((d) => d.name),
    )
  )
    problems.push(`/dev/mapper nodes [${sorted(nodes).join(', ')}] for devices [${sorted(devices.map((d) => d.name)).join(', ')}]`);

  // loop devices: exactly one for each of the pool's files
  const loops = await loopsOf(home);
  const files = loops.map((l) => l.split(/\s+/)[1]);
  if (!same(files, [join(home, 'devicemapper', 'data'), join(home, 'devicemapper', 'metadata')])) {
    problems.push(`loop devices of the home: [${loops.join('; ')}], expected one each for data and metadata`);
  }

  // nothing mounted (a complete layer was put back after its check)
  const mounts = await mountsUnder(home);
  if (mounts.length) problems.push(`mounted under the home: ${mounts.join(', ')}`);

  // the driver's records: one per listed layer, finished, nothing half written
  const devDir = join(home, 'metadata', 'devices');
  const recNames = await readdir(devDir);
  const tmp = recNames.filter((n) => !n.endsWith('.json'));
  if (tmp.length) problems.push(`temporary files in metadata/devices: ${tmp.join(', ')}`);
  const records = (
    await Promise.all(recNames.filter((n) => n.endsWith('.json')).map((n) => readJson<DeviceRecord>(join(devDir, n))))
  ).filter((r): r is DeviceRecord => r !== undefined);
  if (
    !same(
      records.map((r) => r.id),
      layers,
    )
  )
    problems.push(`device records for [${sorted(records.map((r) => r.id)).join(', ')}], layers are [${sorted(layers).join(', ')}]`);
  const deleted = records.filter((r) => r.deleted).map((r) => r.id);
  if (deleted.length) problems.push(`device records marked deleted (no deferred deletion here): ${deleted.join(', ')}`);
  const metaNames = await readdir(join(home, 'metadata'));
  const metaStray = metaNames.filter((n) => n !== 'devices' && n !== 'deviceset.json');
  if (metaStray.length) problems.push(`left in home/metadata: ${metaStray.join(', ')} (an open transaction or a temporary file)`);
  const set = await readJson<DeviceSetRecord>(join(home, 'metadata', 'deviceset.json'));
  if (!set?.base) problems.push('no base device in deviceset.json');

  // the pool's own metadata: the base's and the listed layers' thin devices, no other
  if (set?.base) {
    const metadataDevice = loops.find((l) => l.endsWith(join(home, 'devicemapper', 'metadata')))?.split(/\s+/)[0];
    if (metadataDevice) {
      const ids = await liveThinIds(`${prefix}-pool`, metadataDevice);
      const want = [set.base.deviceId, ...records.map((r) => r.deviceId)].sort((a, b) => a - b);
      if (ids.join(',') !== want.join(','))
        problems.push(`thin devices in the pool: [${ids.join(', ')}], records name [${want.join(', ')}]`);
    }
  }

  // directories: layers' mount points only, no temporary grow mount, no stray top-level name
  const mnt = await readdir(join(home, 'mnt'));
  const mntStray = mnt.filter((n) => !layers.includes(n));
  if (mntStray.length) problems.push(`in home/mnt, of no listed layer: ${mntStray.join(', ')}`);
  const dmFiles = await readdir(join(home, 'devicemapper'));
  if (!same(dmFiles, ['data', 'metadata'])) problems.push(`home/devicemapper holds ${dmFiles.join(', ')}`);
  const top = (await readdir(home)).filter((n) => !['layers', 'lock', 'metadata', 'mnt', 'devicemapper'].includes(n));
  if (top.length) problems.push(`unexpected names in the home: ${top.join(', ')}`);

  if (problems.length) throw new Error(`devicemapper leaks in ${home}:\n  ${problems.join('\n  ')}`);
}

/** After cleanup: no device, loop device or mount of the home is left. */
async function assertNothingActive(home: string): Promise<void> {
  const problems: string[] = [];
  const mounts = await mountsUnder(home);
  if (mounts.length) problems.push(`still mounted: ${mounts.join(', ')}`);
  const devices = await dmDevicesOf(home);
  if (devices.length) problems.push(`device-mapper devices left: ${devices.map((d) => `${d.name} ${d.attr}`).join(', ')}`);
  const loops = await loopsOf(home);
  if (loops.length) problems.push(`loop devices left: ${loops.join('; ')}`);
  const nodes = await dmNodesOf(home);
  if (nodes.length) problems.push(`/dev/mapper nodes left: ${nodes.join(', ')}`);
  if (problems.length) throw new Error(`after cleanup of ${home}:\n  ${problems.join('\n  ')}`);
}

/** Takes down whatever a home still has in the kernel (after a failed run), then deletes it. */
async function removeDmHome(home: string): Promise<void> {
  const prefix = await devicePrefix(home).catch(() => undefined);
  if (prefix) {
    for (const m of await mountsUnder(home))
      await tool('umount')
        .run(['-l', m])
        .catch(() => {});
    const devices = await dmDevicesOf(home);
    // layers first, the pool last; a suspended device is resumed so it can go
    for (const d of [...devices.filter((x) => !x.name.endsWith('-pool')), ...devices.filter((x) => x.name.endsWith('-pool'))]) {
      if (d.attr.includes('s')) await dmsetupTool.run(['resume', d.name]).catch(() => {});
      await dmsetupTool.run(['remove', '--retry', d.name]).catch(() => dmsetupTool.run(['remove', '--force', d.name]).catch(() => {}));
    }
    for (const l of await loopsOf(home)) await losetupTool.run(['-d', l.split(/\s+/)[0]]).catch(() => {});
  }
  await rm(home, { recursive: true, force: true });
}

const driverModule = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const target: CrashTarget = {
  name: 'devicemapper (loop-backed thin pool)',
  makeHome: () => mkdtemp(join(tmpdir(), 'gd-dmcrash-')),
  options: () => options,
  init: (home, opts) => init(home, opts),
  driverModule,
  assertNoLeaks: assertNoDmLeaks,
  assertNothingMounted: assertNothingActive,
  removeHome: removeDmHome,
  // unpacking and hashing in the emulated guest is slow: half-size tars (still up to 1.5 MiB files)
  tarScale: 0.5,
};

describe('devicemapper robustness', () => {
  // core's describeCrashSafety, with bounds for an emulated guest on a busy host
  const { runs, seed } = campaignSettings(CI_CRASH_RUNS);
  describe(`crash safety: ${target.name}`, () => {
    it(
      `${runs} runs killed at random points (seed ${seed}) leave a consistent, leak-free, removable store`,
      async () => {
        const report = await runCrashCampaign(target, {
          seed,
          runs,
          log: (l) => console.log(`[crash] ${l}`),
          childTimeoutMs: 600_000,
          checkTimeoutMs: 900_000,
        });
        await saveReport('crash', target.name, report);
        console.log(`[crash] ${JSON.stringify({ ...report, failures: report.failures.length })}`);
        expect(report.failures, report.failures.join('\n')).toEqual([]);
        expect(report.runs).toBe(runs);
        // a campaign that never killed anything proves nothing
        expect(report.faultsInjected).toBeGreaterThanOrEqual(Math.ceil(runs / 5));
      },
      600_000 + runs * 120_000,
    );
  });
  describeConcurrency(target);
  describeHostileInput({ ...target, options: () => hostileOptions });
  describeMalformedArguments({
    ...target,
    badInitOptions: [
      ['dm.basesize=abc'],
      ['dm.fs=btrfs'],
      ['dm.min_free_space=150%'],
      ['dm.blocksize=3K'],
      ['dm.use_deferred_deletion=true'],
      ['dm.thinpooldev=gd-no-such-pool'],
    ],
  });
});

// ENOSPC: a layer's own filesystem fills up (48 MiB base size) in a pool with room to spare.
const small = new Map<string, string[]>();
describe('devicemapper on a full layer filesystem', () => {
  describeExhaustion({
    name: 'devicemapper (48 MiB layers)',
    async makeSmallHome() {
      const home = await mkdtemp(join(tmpdir(), 'gd-dmfull-'));
      small.set(home, ['dm.loopdatasize=1G', 'dm.loopmetadatasize=64M', 'dm.basesize=48M', 'dm.min_free_space=1%']);
      return { home, capacity: 40 << 20 };
    },
    options: (home) => small.get(home) ?? [],
    init: (home, opts) => init(home, opts),
    async removeHome(home) {
      small.delete(home);
      await removeDmHome(home);
    },
  });
});

// ---- leftovers of a process killed at a precise point, made on purpose ---------------------

/**
 * Runs `body` (ES module code; `init`, `home` and `options` are in scope) in a node child whose
 * `helper` tool is a shim on its PATH: the shim runs the real tool, then stops itself. The
 * child's process group (the stopped shim with it) is SIGKILLed as soon as the real tool has
 * finished: a crash exactly between that step and the driver's next one.
 */
async function killAfterHelper(home: string, opts: string[], helper: string, body: string): Promise<void> {
  const shims = await mkdtemp(join(tmpdir(), 'gd-shim-'));
  const real = (await exec('sh', ['-c', `command -v ${helper}`])).stdout.trim();
  const mark = join(shims, 'status');
  await writeFile(join(shims, helper), `#!/bin/sh\n"${real}" "$@"\necho $? > "${mark}"\nkill -STOP $$\n`, { mode: 0o755 });
  const code = `import { init } from ${JSON.stringify(driverModule)};
const home = ${JSON.stringify(home)}; const options = ${JSON.stringify(opts)};
${body}
process.stdout.write('finished\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${shims}:${process.env.PATH}` },
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  let status: string | undefined;
  const deadline = Date.now() + 600_000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
    status = await readFile(mark, 'utf8').catch(() => undefined);
    if (status !== undefined) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is gone already
  }
  await closed;
  await rm(shims, { recursive: true, force: true });
  if (status === undefined) throw new Error(`the child never ran ${helper}: ${out.slice(-2000)}`);
  if (status.trim() !== '0') throw new Error(`${helper} failed (exit ${status.trim()}) in the child: ${out.slice(-2000)}`);
}

/** The thin device ids in a home's pool (the pool must be down: after cleanup). */
const poolThinIds = (home: string) => thinDeviceIdsOf(join(home, 'devicemapper', 'metadata'));

describe('devicemapper after a process killed at a precise step', () => {
  const opts = ['dm.loopdatasize=1G', 'dm.loopmetadatasize=64M', 'dm.basesize=40M', 'dm.min_free_space=1%'];
  const homes: string[] = [];
  const newHome = async () => {
    const h = await mkdtemp(join(tmpdir(), 'gd-dmkill-'));
    homes.push(h);
    return h;
  };
  afterAll(async () => {
    for (const h of homes) await removeDmHome(h);
  });
  const withFile = async (d: Driver, id: string, name: string, text: string) => {
    const root = await d.get(id);
    await writeFile(join(root, name), text);
    await d.put(id);
  };
  const fileOf = async (d: Driver, id: string, name: string) => {
    const root = await d.get(id);
    try {
      return await readFile(join(root, name), 'utf8');
    } finally {
      await d.put(id);
    }
  };

  // Each of these states is what a kill between two steps leaves; before the fixes the next
  // init failed, hung, or left a thin device behind.
  it('an origin left suspended (a kill between suspend and resume in create) is resumed at init', async () => {
    const home = await newHome();
    let d = await init(home, opts);
    await d.create('a', null);
    await withFile(d, 'a', 'f', 'a\n');
    await d.get('a'); // mounted, so active: a create of its child suspends it
    await d.close!(); // the lock goes, the mount and the device stay: as after a kill
    await dmsetupTool.run(['suspend', `${await devicePrefix(home)}-a`]);
    d = await init(home, opts);
    expect(
      (await dmDevicesOf(home)).filter((x) => x.attr.includes('s')),
      'suspended after init',
    ).toEqual([]);
    expect(await fileOf(d, 'a', 'f')).toBe('a\n');
    await d.create('a2', 'a');
    expect(await fileOf(d, 'a2', 'f')).toBe('a\n');
    await d.cleanup(); // unmounts: this hung on the suspended device
    await assertNothingActive(home);
  });

  it('layer devices left without a live table (a kill inside `dmsetup create`) are made again when used', async () => {
    const home = await newHome();
    const prefix = await devicePrefix(home);
    let d = await init(home, opts);
    await d.create('b', null);
    await d.create('c', null);
    const idOfC = (await d.getMetadata('c')).DeviceId;
    await d.close!(); // the pool stays up, as after a kill
    // b: created, no table loaded; c: its table loaded but never resumed
    await dmsetupTool.run(['create', `${prefix}-b`, '--notable']);
    await dmsetupTool.run(['create', `${prefix}-c`, '--notable']);
    await dmsetupTool.run(['load', `${prefix}-c`, '--table', `0 ${(40 << 20) / 512} thin /dev/mapper/${prefix}-pool ${idOfC}`]);
    d = await init(home, opts);
    await withFile(d, 'b', 'g', 'b\n');
    await withFile(d, 'c', 'h', 'c\n');
    expect(await fileOf(d, 'b', 'g')).toBe('b\n');
    await assertNoDmLeaks(home, ['b', 'c']);
    await d.cleanup();
    await assertNothingActive(home);
  });

  // Found by the soak (seed 1, run 279): without udev, dmsetup makes /dev/mapper/<name> after
  // its ioctls; a process group killed right then left the pool without its node, and every
  // later activation ("reload ioctl ... No such device") and pool message failed.
  it('the pool and a layer device left without their /dev/mapper node (a kill at the end of `dmsetup create`) get it back', async () => {
    const home = await newHome();
    const prefix = await devicePrefix(home);
    let d = await init(home, opts);
    await d.create('a', null);
    await withFile(d, 'a', 'f', 'a\n');
    await d.create('b', null);
    const idOfB = (await d.getMetadata('b')).DeviceId;
    await d.close!(); // the pool stays up, as after a kill
    await dmsetupTool.run(['create', `${prefix}-b`, '--table', `0 ${(40 << 20) / 512} thin /dev/mapper/${prefix}-pool ${idOfB}`]);
    await rm(`/dev/mapper/${prefix}-pool`);
    await rm(`/dev/mapper/${prefix}-b`);
    d = await init(home, opts);
    expect(await fileOf(d, 'a', 'f')).toBe('a\n'); // a thin table names the pool by its node
    await withFile(d, 'b', 'g', 'b\n'); // mounted by its node
    await d.create('c', 'a'); // a message to the pool, by its node
    await d.remove('b');
    await assertNoDmLeaks(home, ['a', 'c']);
    await d.cleanup();
    await assertNothingActive(home);
  });

  it('a pool left without a table (a kill inside its `dmsetup create` at init) is made again at init', async () => {
    const home = await newHome();
    let d = await init(home, opts);
    await d.create('p', null);
    await withFile(d, 'p', 'f', 'p\n');
    await d.cleanup();
    await dmsetupTool.run(['create', `${await devicePrefix(home)}-pool`, '--notable']);
    d = await init(home, opts);
    expect(await fileOf(d, 'p', 'f')).toBe('p\n');
    await d.cleanup();
    await assertNothingActive(home);
  });

  it('a kill once resize2fs grew a new layer (still mounted at mnt/.grow-<id>) is swept at init', async () => {
    const home = await newHome();
    let d = await init(home, opts);
    await d.create('a', null);
    await d.cleanup();
    await killAfterHelper(
      home,
      opts,
      'resize2fs',
      "const d = await init(home, options); await d.createReadWrite('big', 'a', { storageOpt: { size: '64M' } });",
    );
    d = await init(home, opts); // this failed: the sweep of "big" found its device busy
    expect(await d.list()).toEqual(['a']);
    await assertNoDmLeaks(home, ['a']);
    await d.cleanup();
    await assertNothingActive(home);
    expect(poolThinIds(home).length).toBe(2); // the base and a
  });

  it('a kill once the base device is formatted, before it is recorded, is rolled back: the next init makes a working base, nothing is left over', async () => {
    const home = await newHome();
    await killAfterHelper(home, opts, 'mkfs.ext4', 'await init(home, options);');
    const d = await init(home, opts);
    await d.create('x', null);
    await withFile(d, 'x', 'f', 'x\n');
    expect(await fileOf(d, 'x', 'f')).toBe('x\n');
    await assertNoDmLeaks(home, ['x']);
    await d.cleanup();
    await assertNothingActive(home);
    expect(poolThinIds(home).length).toBe(2); // the base and x, no base of the killed init
  });
});
