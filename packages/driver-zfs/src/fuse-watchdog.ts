// zfs-fuse's daemon can deadlock (every daemon thread waiting on one lock). A process that
// reads a layer then sleeps in the kernel waiting for a FUSE reply that never comes, and
// the zfs commands behind mount and unmount wait on the daemon's socket: without help a
// driver call would hang for good. While driver calls are in flight, the watchdog asks
// the daemon (through `probe`, a command with its own short deadline) whether it answers;
// when it does not, it aborts the FUSE connection of every zfs-fuse mount under the
// driver's directory (/sys/fs/fuse/connections/<N>/abort),
// which makes the blocked calls fail with ENOTCONN, and the calls fail at once with a
// typed ERR_HUNG. Those mounts stay dead: zfs-fuse must be restarted.
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ErrorCode, GraphDriverError, type Driver } from '@graphdriver/core';

export const FUSE_CONNECTIONS = '/sys/fs/fuse/connections';

export interface WatchdogOptions {
  /** The directory whose zfs-fuse mounts are aborted when the daemon hangs (the layers' mounts). */
  dir: string;
  /** A command that asks the daemon something cheap (`zpool list`), run by the watchdog itself. */
  probe: readonly string[];
  /** Calls running this long get the daemon probed, and then again every this often. */
  intervalMs: number;
  /** A probe that has not answered in this time means the daemon hangs. */
  timeoutMs: number;
}

/** The id of a mount's FUSE connection: its device number (anonymous devices: 0:N is N). */
export function fuseConnectionId(major: number, minor: number): number {
  return major * 2 ** 20 + minor;
}

/** Slots of the memory shared with the watchdog's thread. */
const ACTIVE = 0; // driver calls and diff streams in flight
const HANGS = 1; // hangs declared so far

/** What the watchdog's thread reports when it declared a hang. */
interface HangReport {
  aborted: string[];
  failed: string[];
  control?: string;
}

/**
 * The watchdog's own thread. It must not be the main thread: the exporter reads files with
 * synchronous calls (tar-assembler.ts), so a hung FUSE read blocks the main thread, and
 * with it every timer. Runs as eval'd CommonJS (no imports of ours), hence the few lines
 * of mountinfo parsing of its own (mountinfo.ts is the main thread's).
 */
function watchdogThread(): void {
  // an eval'd worker is CommonJS: require, not import
  const { workerData, parentPort } = require('node:worker_threads');
  const { spawn, spawnSync } = require('node:child_process');
  const fs = require('node:fs');
  const { shared, dir, probe, intervalMs, timeoutMs, connections } = workerData;
  const unescapeOctal = (t: string) => t.replace(/\\([0-7]{3})/g, (_: string, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const mounts = () =>
    (fs.readFileSync('/proc/self/mountinfo', 'utf8') as string)
      .split('\n')
      .map((line) => line.split(' '))
      .map((f) => ({ dev: f[2] ?? '', mountpoint: unescapeOctal(f[4] ?? ''), fstype: f[f.indexOf('-', 6) + 1] ?? '' }));
  const answers = () =>
    new Promise<boolean>((resolve) => {
      const child = spawn(probe[0], probe.slice(1), { stdio: 'ignore' });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true); // an error is an answer too: a daemon that is gone fails commands fast by itself
      };
      child.on('exit', done);
      child.on('error', done);
    });
  const abortAll = () => {
    const report: HangReport = { aborted: [], failed: [] };
    if (!mounts().some((m) => m.mountpoint === connections && m.fstype === 'fusectl')) {
      // systemd mounts it at boot; a bare VM or container may not have
      const r = spawnSync('mount', ['-t', 'fusectl', 'fusectl', connections], { encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) report.control = String(r.stderr || r.error || 'mount failed').trim();
    }
    for (const m of mounts()) {
      if (m.fstype !== 'fuse.zfs' || !(m.mountpoint === dir || m.mountpoint.startsWith(`${dir}/`))) continue;
      const [major, minor] = m.dev.split(':').map(Number);
      try {
        fs.writeFileSync(`${connections}/${major * 2 ** 20 + minor}/abort`, '1');
        report.aborted.push(m.mountpoint);
      } catch (err) {
        report.failed.push(`${m.mountpoint} (${(err as Error).message})`);
      }
    }
    return report;
  };
  const tick = async () => {
    if (Atomics.load(shared, 0) > 0 && !(await answers()) && Atomics.load(shared, 0) > 0) {
      Atomics.add(shared, 1, 1); // before the aborts: a call failing from them must see it
      parentPort.postMessage(abortAll());
    }
    setTimeout(tick, intervalMs);
  };
  setTimeout(tick, intervalMs);
}

export class FuseWatchdog {
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private worker: Worker | undefined;
  private readonly onHang = new Set<(err: GraphDriverError) => void>();

  constructor(private readonly opts: WatchdogOptions) {}

  /** Runs `op`; it rejects with ERR_HUNG as soon as the daemon is found hung meanwhile. */
  async guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    const leave = this.enter();
    const since = Atomics.load(this.shared, HANGS);
    let listener!: (err: GraphDriverError) => void;
    const hung = new Promise<never>((_, reject) => {
      listener = (err) => reject(this.hungError(what, err));
      this.onHang.add(listener);
    });
    try {
      return await Promise.race([
        op().catch((err: unknown) => {
          // failed by the aborted connections (ENOTCONN) before the report came in
          throw Atomics.load(this.shared, HANGS) !== since ? this.hungError(what, err) : err;
        }),
        hung,
      ]);
    } finally {
      this.onHang.delete(listener);
      leave();
    }
  }

  /** Watches while `stream` is open (a diff read later): a hang destroys it with ERR_HUNG. */
  guardStream<S extends Readable>(what: string, stream: S): S {
    const leave = this.enter();
    const since = Atomics.load(this.shared, HANGS);
    // Errors reach a diff stream through destroy(err): one caused by the aborted
    // connections (ENOTCONN) is told as the hang it is.
    const destroy = stream.destroy.bind(stream);
    stream.destroy = (err?: Error) => destroy(err && Atomics.load(this.shared, HANGS) !== since ? this.hungError(what, err) : err);
    const listener = (err: GraphDriverError) => stream.destroy(err);
    this.onHang.add(listener);
    stream.once('close', () => {
      this.onHang.delete(listener);
      leave();
    });
    return stream;
  }

  private hungError(what: string, cause: unknown): GraphDriverError {
    if (cause instanceof GraphDriverError && cause.code === ErrorCode.Hung) return cause;
    return new GraphDriverError(
      ErrorCode.Hung,
      `${what}: the zfs-fuse daemon does not answer (no reply within ${this.opts.timeoutMs} ms); restart zfs-fuse`,
      { cause },
    );
  }

  private enter(): () => void {
    this.start();
    Atomics.add(this.shared, ACTIVE, 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      Atomics.sub(this.shared, ACTIVE, 1);
    };
  }

  /** The thread, started at the first call and never keeping the process alive. */
  private start(): void {
    if (this.worker) return;
    const { dir, probe, intervalMs, timeoutMs } = this.opts;
    this.worker = new Worker(`(${watchdogThread.toString()})()`, {
      eval: true,
      workerData: { shared: this.shared, dir, probe, intervalMs, timeoutMs, connections: FUSE_CONNECTIONS },
    });
    this.worker.unref();
    this.worker.on('message', (r: HangReport) => {
      const err = new GraphDriverError(
        ErrorCode.Hung,
        `the zfs-fuse daemon does not answer (no reply within ${timeoutMs} ms): ` +
          `aborted the FUSE connection of ${r.aborted.length} mount${r.aborted.length === 1 ? '' : 's'}` +
          (r.failed.length ? `, could not abort ${r.failed.join(', ')}` : '') +
          (r.control ? ` (no FUSE control filesystem at ${FUSE_CONNECTIONS}: ${r.control})` : '') +
          '; restart zfs-fuse',
      );
      for (const fn of [...this.onHang]) fn(err);
    });
    this.worker.on('error', () => {
      this.worker = undefined; // started again by the next call
    });
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
