// zfs-fuse's daemon can deadlock (every daemon thread waiting on one lock). A process that
// reads a layer then sleeps in the kernel waiting for a FUSE reply that never comes, and
// the zfs commands behind mount and unmount wait on the daemon's socket: without help a
// driver call would hang for good. While driver calls are in flight, the watchdog asks
// the daemon (through `probe`, a command with its own short deadline) whether it answers;
// when it does not, it aborts the FUSE connection of every zfs-fuse mount under the
// driver's directory (/sys/fs/fuse/connections/<N>/abort, as `fusermount`-less tools do),
// which makes the blocked calls fail with ENOTCONN, and the calls fail at once with a
// typed ERR_HUNG. Those mounts stay dead: zfs-fuse must be restarted.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCode, GraphDriverError, tool, type Driver } from '@graphdriver/core';
import { mountAt, mountsUnder, readMountinfo } from './mountinfo.js';

const mountTool = tool('mount', { timeout: 10_000 });

/**
 * The FUSE control filesystem, mounted where it belongs when it is not (systemd mounts it
 * at boot; a bare VM or container may not have): without it no connection can be aborted.
 */
async function ensureFusectl(): Promise<void> {
  if (mountAt(await readMountinfo(), FUSE_CONNECTIONS)?.fstype === 'fusectl') return;
  await mountTool.run(['-t', 'fusectl', 'fusectl', FUSE_CONNECTIONS]);
}

export const FUSE_CONNECTIONS = '/sys/fs/fuse/connections';

export interface WatchdogOptions {
  /** The directory whose zfs-fuse mounts are aborted when the daemon hangs (the layers' mounts). */
  dir: string;
  /** Asks the daemon something cheap (`zpool list`); it must not queue behind other commands. */
  probe: () => Promise<unknown>;
  /** Calls running this long get the daemon probed, and then again every this often. */
  intervalMs: number;
  /** A probe that has not answered in this time means the daemon hangs. */
  timeoutMs: number;
}

/** The id of a mount's FUSE connection: its device number (anonymous devices: 0:N is N). */
export function fuseConnectionId(major: number, minor: number): number {
  return major * 2 ** 20 + minor;
}

export class FuseWatchdog {
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly onHang = new Set<(err: GraphDriverError) => void>();

  constructor(private readonly opts: WatchdogOptions) {}

  /** Runs `op`; it rejects with ERR_HUNG as soon as the daemon is found hung meanwhile. */
  async guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    const leave = this.enter();
    let listener!: (err: GraphDriverError) => void;
    const hung = new Promise<never>((_, reject) => {
      listener = (err) => reject(new GraphDriverError(ErrorCode.Hung, `${what}: ${err.message}`, { cause: err }));
      this.onHang.add(listener);
    });
    try {
      return await Promise.race([op(), hung]);
    } finally {
      this.onHang.delete(listener);
      leave();
    }
  }

  /** Watches while `stream` is open (a diff read later): a hang destroys it with ERR_HUNG. */
  guardStream<S extends Readable>(what: string, stream: S): S {
    const leave = this.enter();
    const listener = (err: GraphDriverError) =>
      stream.destroy(new GraphDriverError(ErrorCode.Hung, `${what}: ${err.message}`, { cause: err }));
    this.onHang.add(listener);
    stream.once('close', () => {
      this.onHang.delete(listener);
      leave();
    });
    return stream;
  }

  private enter(): () => void {
    if (this.active++ === 0) this.schedule();
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.active === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.active === 0) return;
    let deadline: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      this.opts.probe().then(
        () => true,
        () => true, // an error is an answer: a daemon that is gone fails commands fast by itself
      ),
      new Promise<false>((r) => {
        deadline = setTimeout(() => r(false), this.opts.timeoutMs);
      }),
    ]);
    clearTimeout(deadline);
    if (!answered) await this.declareHung();
    if (this.active > 0 && !this.timer) this.schedule();
  }

  private async declareHung(): Promise<void> {
    const aborted: string[] = [];
    const failed: string[] = [];
    const control = await ensureFusectl().then(
      () => undefined,
      (err: Error) => err.message.split('\n')[0],
    );
    const mounts = mountsUnder(await readMountinfo(), this.opts.dir).filter((e) => e.fstype === 'fuse.zfs');
    for (const m of mounts) {
      const path = join(FUSE_CONNECTIONS, String(fuseConnectionId(m.major, m.minor)), 'abort');
      await writeFile(path, '1').then(
        () => aborted.push(m.mountpoint),
        (err: Error) => failed.push(`${m.mountpoint} (${err.message})`),
      );
    }
    const err = new GraphDriverError(
      ErrorCode.Hung,
      `the zfs-fuse daemon does not answer (no reply within ${this.opts.timeoutMs} ms): ` +
        `aborted the FUSE connection of ${aborted.length} mount${aborted.length === 1 ? '' : 's'}` +
        (failed.length ? `, could not abort ${failed.join(', ')}` : '') +
        (control ? ` (no FUSE control filesystem at ${FUSE_CONNECTIONS}: ${control})` : '') +
        '; restart zfs-fuse',
    );
    for (const fn of [...this.onHang]) fn(err);
  }
}

/** Methods that return at once without touching the backend. */
const UNGUARDED = new Set<PropertyKey>(['record', 'constructor']);

/** `driver` with every call (and every diff stream while open) under the watchdog. */
export function guardDriver(driver: Driver, dog: FuseWatchdog): Driver {
  return new Proxy(driver, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || UNGUARDED.has(prop)) return value;
      const fn = value as (...a: unknown[]) => Promise<unknown>;
      const what = `zfs ${String(prop)}`;
      if (prop === 'diff') {
        return (...args: unknown[]) => dog.guard(what, () => fn.apply(target, args)).then((s) => dog.guardStream(what, s as Readable));
      }
      return (...args: unknown[]) => dog.guard(what, () => fn.apply(target, args));
    },
  });
}
