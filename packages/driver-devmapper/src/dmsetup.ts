// Typed wrapper of dmsetup(8). Every call goes through core's tool(), so a failure carries
// the command line, exit code and stderr.
import { tool, ToolError } from '@graphdriver/core';

const dm = tool('dmsetup');

export interface DeviceInfo {
  exists: boolean;
  openCount: number;
  suspended: boolean;
  major?: number;
  minor?: number;
  /** Set when a deferred remove is pending (the device goes away at its last close). */
  deferredRemove: boolean;
  /**
   * A live table is loaded. A process killed inside `dmsetup create` can leave a device
   * without one (created, table not yet loaded or not yet resumed): it maps nothing.
   */
  liveTable: boolean;
}

export interface ThinPoolStatus {
  transactionId: number;
  metadataUsed: number;
  metadataTotal: number;
  dataUsed: number;
  dataTotal: number;
  /** Pool length in 512-byte sectors. */
  lengthSectors: number;
}

// Without udev (a VM, a container), libdevmapper must make the /dev/mapper nodes itself.
const common = ['--noudevsync'];

export const dmsetup = {
  async driverVersion(): Promise<string> {
    const { stdout } = await dm.run(['version']);
    const m = /Driver version:\s*(\S+)/.exec(stdout);
    if (!m) throw new ToolError('dmsetup', ['version'], 0, `no kernel driver version in: ${stdout.trim()}`);
    return m[1];
  },

  async libraryVersion(): Promise<string> {
    const { stdout } = await dm.run(['version']);
    return /Library version:\s*(\S+)/.exec(stdout)?.[1] ?? 'unknown';
  },

  async info(name: string): Promise<DeviceInfo> {
    try {
      // The plain report names every state (columns have no field for a pending deferred remove).
      const { stdout } = await dm.run(['info', name]);
      const field = (label: string) => new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? '';
      const state = field('State');
      const [major, minor] = field('Major, minor')
        .split(',')
        .map((n) => Number(n.trim()));
      return {
        exists: true,
        major,
        minor,
        openCount: Number(field('Open count')) || 0,
        suspended: /SUSPENDED/.test(state),
        deferredRemove: /DEFERRED REMOVE/.test(state),
        liveTable: /LIVE/.test(field('Tables present')),
      };
    } catch (err) {
      if (err instanceof ToolError && /not exist|No such device/i.test(err.stderr)) {
        return { exists: false, openCount: 0, suspended: false, deferredRemove: false, liveTable: false };
      }
      throw err;
    }
  },

  async create(name: string, table: string): Promise<void> {
    await dm.run([...common, 'create', name, '--table', table]);
  },

  async reload(name: string, table: string): Promise<void> {
    await dm.run([...common, 'reload', name, '--table', table]);
  },

  async suspend(name: string): Promise<void> {
    await dm.run([...common, 'suspend', name]);
  },

  async resume(name: string): Promise<void> {
    await dm.run([...common, 'resume', name]);
  },

  /** Removes a device; `deferred` lets a busy device go away at its last close. */
  async remove(name: string, opts: { deferred?: boolean } = {}): Promise<void> {
    await dm.run([...common, 'remove', ...(opts.deferred ? ['--deferred'] : ['--retry']), name]);
  },

  /**
   * Makes `/dev/mapper/<name>` match the kernel's device (creates it, or drops a stale one).
   * Without udev, dmsetup makes the node itself after its ioctls: a process killed at the end
   * of `dmsetup create` leaves a working device without one, and the paths that name it (a
   * mount, a thin table's pool, a message to the pool) fail with "No such device".
   */
  async mknodes(name: string): Promise<void> {
    await dm.run(['mknodes', name]);
  },

  /** Cancels a pending deferred remove so the device can be used again. */
  async cancelDeferredRemove(name: string): Promise<void> {
    await dm.run(['message', name, '0', '@cancel_deferred_remove']);
  },

  async message(name: string, message: string): Promise<void> {
    await dm.run(['message', name, '0', message]);
  },

  async table(name: string): Promise<string> {
    return (await dm.run(['table', name])).stdout.trim();
  },

  async thinPoolStatus(pool: string): Promise<ThinPoolStatus> {
    const line = (await dm.run(['status', pool])).stdout.trim();
    // 0 <len> thin-pool <transaction id> <used>/<total meta blocks> <used>/<total data blocks> ...
    const f = line.split(/\s+/);
    if (f[2] !== 'thin-pool') throw new ToolError('dmsetup', ['status', pool], 0, `not a thin pool: ${line}`);
    const [mu, mt] = f[4].split('/').map(Number);
    const [du, dt] = f[5].split('/').map(Number);
    return { lengthSectors: Number(f[1]), transactionId: Number(f[3]), metadataUsed: mu, metadataTotal: mt, dataUsed: du, dataTotal: dt };
  },

  /** Device names, optionally only those of a target type. */
  async list(target?: string): Promise<string[]> {
    const { stdout } = await dm.run(['ls', ...(target ? ['--target', target] : [])]);
    if (/No devices found/.test(stdout)) return [];
    return stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter(Boolean);
  },
};

/** True for the kernel's "device busy" answers. */
export function isBusy(err: unknown): boolean {
  return err instanceof ToolError && /busy|EBUSY/i.test(err.stderr);
}
