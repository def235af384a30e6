// What every command shares: the global options, the store root, and a driver opened for
// the length of one command and let go of (not cleaned up) at its end.
import { access, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  DRIVER_ENV,
  closeDriver,
  errInvalidOption,
  errnoCode,
  makeDirs,
  newDriver,
  registeredDrivers,
  type Driver,
} from '@graphdriver/core';
import { pathError } from './cli-errors.js';

export interface GlobalOptions {
  root?: string;
  driver?: string;
  opt: string[];
  json: boolean;
  quiet: boolean;
  debug: boolean;
  /** Fires on SIGINT, SIGTERM, SIGHUP or a closed stdout (interrupts.ts). */
  signal?: AbortSignal;
  /** The command's point of no return: false if it was interrupted before (Interrupts.commit). */
  commit?: () => boolean;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** Names the store root when `--root` does not. */
export const ROOT_ENV = 'GRAPHDRIVER_ROOT';

/**
 * The store root nobody named: `$GRAPHDRIVER_ROOT`; else `/var/lib/graphdriver` for root; else
 * the user's data folder, `$XDG_DATA_HOME/graphdriver` or `~/.local/share/graphdriver` (podman's
 * convention), never the directory the user happens to stand in. The XDG spec says to ignore
 * a relative `$XDG_DATA_HOME`.
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env[ROOT_ENV]) return resolve(env[ROOT_ENV]);
  if (isRoot()) return '/var/lib/graphdriver';
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share'), 'graphdriver');
}

export interface Session {
  root: string;
  driverName: string | undefined;
  options: string[];
}

/**
 * The store root and driver choice. With no driver named, the registry chooses as Docker does,
 * for root and non-root alike: a non-root user gets overlay2 through fuse-overlayfs where it
 * can run (copy-on-write, as rootless podman), else vfs (btrfs, zfs and devmapper need root and
 * say ERR_PREREQUISITES, which the registry skips).
 */
export function sessionFor(g: GlobalOptions): Session {
  const root = resolve(g.root ?? defaultRoot());
  return { root, driverName: g.driver || process.env[DRIVER_ENV] || undefined, options: g.opt };
}

/** True when `path` exists (any type); false on any error. */
export const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Whether the store holds a home for the chosen driver (or, with none chosen, for any). Read-only
 * commands ask first: opening a driver creates its home, and `ls` must not leave a store behind.
 */
export async function storeExists(s: Session): Promise<boolean> {
  // a root that is a file, or below one (ENOTDIR), or unreachable (EACCES) can never hold a
  // store: that is the argument's fault, not "no store yet"
  const st = await stat(s.root).catch((err) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw pathError(err, `cannot read the store root ${s.root}`);
  });
  if (!st) return false;
  if (!st.isDirectory()) throw errInvalidOption(`cannot read the store root ${s.root}: it is not a directory`);
  const names = s.driverName ? [s.driverName] : registeredDrivers();
  for (const name of names) if (await exists(join(s.root, name))) return true;
  return false;
}

/**
 * For commands that only read (`ls`, `info`, `status`, `check`): like {@link withDriver}, but
 * where there is no store yet `fn` gets `null` and nothing is created.
 */
export async function withExistingDriver<T>(g: GlobalOptions, fn: (driver: Driver | null, s: Session) => Promise<T>): Promise<T> {
  const s = sessionFor(g);
  // an unknown driver name is still the registry's error, not "no store"
  const known = !s.driverName || registeredDrivers().includes(s.driverName);
  if (known && !(await storeExists(s))) return fn(null, s);
  return withDriver(g, fn);
}

/** Opens the driver, runs `fn`, and closes the driver (its lock), leaving mounts in place. */
export async function withDriver<T>(g: GlobalOptions, fn: (driver: Driver, s: Session) => Promise<T>): Promise<T> {
  const s = sessionFor(g);
  await makeDirs(s.root, 0o700).catch((err) => {
    throw pathError(err, `cannot create the store root ${s.root}`);
  });
  const driver = await newDriver(s.driverName, { root: s.root, driverOptions: s.options });
  try {
    return await fn(driver, s);
  } finally {
    await closeDriver(driver);
  }
}
