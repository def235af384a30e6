// The one typed wrapper around the zfs, zpool, mount and umount commands, for both ZFS
// implementations. Each method knows the command line its flavour needs; every dataset name is
// checked (assertDatasetName) before it reaches a command line, and `--` ends the options
// wherever both implementations accept it.
import { tool, type RunOptions, type RunResult } from '@graphdriver/core';
import { KeyedMutex } from '@graphdriver/core/linux';
import type { Flavour } from './flavour.js';
import { assertDatasetName } from './names.js';
import { retryWhileBusy } from './retry.js';
import { asNoSpace, isAlreadyMounted, isBusy, isMissingDataset, isNotMounted } from './zfs-errors.js';

export interface Runner {
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export interface ZfsTools {
  zfs: Runner;
  zpool: Runner;
  mount: Runner;
  umount: Runner;
}

/** The system's commands, each call bounded so that a hung daemon cannot hang the driver. */
export function systemTools(timeout = 120_000): ZfsTools {
  return {
    zfs: tool('zfs', { timeout }),
    zpool: tool('zpool', { timeout }),
    mount: tool('mount', { timeout }),
    umount: tool('umount', { timeout }),
  };
}

function propArgs(props: Record<string, string>): string[] {
  return Object.entries(props).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

function checkProp(name: string): void {
  if (!/^[a-z][a-z0-9_.:-]*$/.test(name)) throw new Error(`refusing property name ${JSON.stringify(name)}`);
}

export interface ListOptions {
  type: 'filesystem' | 'snapshot';
  /** Levels below `parent`; snapshots of direct children are at depth 2. */
  depth: number;
  props: readonly string[];
}

/** `r`, with a full pool's "out of space" answered as ERR_NO_SPACE rather than ERR_TOOL_FAILED. */
function typedSpace(r: Runner): Runner {
  return {
    run: (args, opts) =>
      r.run(args, opts).catch((err: unknown) => {
        throw asNoSpace(err);
      }),
  };
}

/**
 * zfs-fuse's daemon can deadlock when commands that mount, unmount or change datasets reach
 * it side by side while its filesystems are busy (seen in the concurrency campaign: every
 * daemon thread waiting on one lock, the test's stat calls hung in FUSE). On zfs-fuse the
 * driver therefore sends one command at a time per process; OpenZFS takes them concurrently.
 */
const fuseDaemon = new KeyedMutex();
function oneAtATime(r: Runner): Runner {
  return { run: (args, opts) => fuseDaemon.run('zfs-fuse', () => r.run(args, opts)) };
}

export class ZfsCli {
  private readonly tools: ZfsTools;

  constructor(
    readonly flavour: Flavour,
    tools: ZfsTools = systemTools(),
  ) {
    // every command can meet a full pool (a snapshot, a property, a mount all write to it)
    const wrap = (r: Runner) => (flavour.kind === 'zfs-fuse' ? oneAtATime(typedSpace(r)) : typedSpace(r));
    this.tools = { zfs: wrap(tools.zfs), zpool: wrap(tools.zpool), mount: wrap(tools.mount), umount: wrap(tools.umount) };
  }

  /** Creation-time properties that keep a layer from being mounted by anyone but the driver. */
  unmountedLayerProps(): Record<string, string> {
    return this.flavour.legacyMount ? { mountpoint: 'legacy' } : { mountpoint: 'none', canmount: 'noauto' };
  }

  /** Fails unless zfs can talk to the kernel module or daemon. */
  async answer(): Promise<void> {
    await this.tools.zfs.run(['list', '-H', '-o', 'name', '-d', '0']);
  }

  async create(name: string, props: Record<string, string>): Promise<void> {
    assertDatasetName(name);
    await this.tools.zfs.run(['create', ...propArgs(props), '--', name]);
  }

  async snapshot(snapshot: string): Promise<void> {
    assertDatasetName(snapshot);
    await this.tools.zfs.run(['snapshot', '--', snapshot]);
  }

  async clone(snapshot: string, name: string, props: Record<string, string>): Promise<void> {
    assertDatasetName(snapshot);
    assertDatasetName(name);
    await this.tools.zfs.run(['clone', ...propArgs(props), '--', snapshot, name]);
  }

  async rename(from: string, to: string): Promise<void> {
    assertDatasetName(from);
    assertDatasetName(to);
    await this.tools.zfs.run(['rename', '--', from, to]);
  }

  /**
   * `recursive` takes the dataset's snapshots along; `deferred` (snapshots only) marks a
   * snapshot that still has clones, to vanish with its last clone, as Docker does.
   */
  async destroy(name: string, opts: { recursive?: boolean; deferred?: boolean } = {}): Promise<void> {
    assertDatasetName(name);
    const flags = [...(opts.recursive ? ['-r'] : []), ...(opts.deferred ? ['-d'] : [])];
    await this.tools.zfs.run(['destroy', ...flags, '--', name]);
  }

  /** Property values of one dataset, exact bytes for sizes where the flavour can. */
  async get(name: string, props: readonly string[]): Promise<Record<string, string>> {
    assertDatasetName(name);
    props.forEach(checkProp);
    const p = this.flavour.getParsable ? ['-p'] : [];
    const { stdout } = await this.tools.zfs.run(['get', '-H', ...p, '-o', 'property,value', props.join(','), '--', name]);
    const out: Record<string, string> = {};
    for (const line of stdout.split('\n')) {
      const tab = line.indexOf('\t');
      if (tab > 0) out[line.slice(0, tab)] = line.slice(tab + 1);
    }
    return out;
  }

  /** `zfs set`: zfs-fuse's set takes no `--`, so this relies on the name check alone. */
  async set(name: string, prop: string, value: string): Promise<void> {
    assertDatasetName(name);
    checkProp(prop);
    if (/[\n\t]/.test(value)) throw new Error(`refusing property value ${JSON.stringify(value)}`);
    await this.tools.zfs.run(['set', `${prop}=${value}`, name]);
  }

  async exists(name: string): Promise<boolean> {
    assertDatasetName(name);
    try {
      await this.tools.zfs.run(['list', '-H', '-o', 'name', '--', name]);
      return true;
    } catch (err) {
      if (isMissingDataset(err)) return false;
      throw err;
    }
  }

  /** Datasets below `parent` (not `parent` itself), one record per row keyed by property. */
  async list(parent: string, opts: ListOptions): Promise<Array<Record<string, string>>> {
    assertDatasetName(parent);
    opts.props.forEach(checkProp);
    const cols = ['name', ...opts.props];
    const p = this.flavour.listParsable ? ['-p'] : [];
    const args = ['list', '-H', ...p, '-o', cols.join(','), '-t', opts.type, '-d', String(opts.depth), '--', parent];
    const { stdout } = await this.tools.zfs.run(args);
    const rows: Array<Record<string, string>> = [];
    for (const line of stdout.split('\n')) {
      if (!line) continue;
      const f = line.split('\t');
      if (f[0] === parent) continue;
      rows.push(Object.fromEntries(cols.map((c, i) => [c, f[i] ?? ''])));
    }
    return rows;
  }

  async poolHealth(pool: string): Promise<string> {
    assertDatasetName(pool);
    const { stdout } = await this.tools.zpool.run(['list', '-H', '-o', 'health', '--', pool]);
    return stdout.trim();
  }

  /**
   * Mounts dataset `name` at `path` (an existing directory).
   * OpenZFS: the dataset is `mountpoint=legacy`, mounted with `mount -t zfs`.
   * zfs-fuse: no legacy mounts; point the mountpoint property at `path` (canmount=noauto keeps
   * that from mounting it), then `zfs mount`, which takes -o options.
   */
  async mount(name: string, path: string, options: readonly string[]): Promise<void> {
    assertDatasetName(name);
    if (!path.startsWith('/')) throw new Error(`mount path must be absolute: ${path}`);
    const o = options.length ? ['-o', options.join(',')] : [];
    if (this.flavour.legacyMount) {
      await this.tools.mount.run(['-t', 'zfs', ...o, '--', name, path]);
      return;
    }
    await this.set(name, 'mountpoint', path);
    try {
      // "mountpoint or dataset is busy" for a moment after the dataset's last unmount
      await retryWhileBusy(() => this.tools.zfs.run(['mount', ...o, '--', name]));
    } catch (err) {
      // setting the property remounts a dataset that was mounted elsewhere
      if (!isAlreadyMounted(err)) throw err;
    }
  }

  /**
   * Unmounts dataset `name` from `path`. OpenZFS: umount(8), detached lazily when busy as
   * Docker's Put does. zfs-fuse: `mountpoint=none` unmounts and leaves nothing to automount.
   */
  async unmount(name: string, path: string): Promise<void> {
    assertDatasetName(name);
    if (this.flavour.legacyMount) {
      try {
        await this.tools.umount.run(['--', path]);
      } catch (err) {
        if (isNotMounted(err)) return;
        if (!isBusy(err)) throw err;
        await this.tools.umount.run(['-l', '--', path]);
      }
      return;
    }
    await this.set(name, 'mountpoint', 'none');
  }

  /** Plain umount(8) of something at `path` that is not (or no longer) a known dataset. */
  async umountPath(path: string): Promise<void> {
    await this.tools.umount.run(['--', path]);
  }
}
