// What every command shares: the global options, the store root, and a driver opened for
// the length of one command and let go of (not cleaned up) at its end.
import { resolve } from 'node:path';
import { DRIVER_ENV, closeDriver, makeDirs, newDriver, type Driver } from '@graphdriver/core';
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
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** `/var/lib/graphdriver` for root; a folder in the current directory for anyone else. */
export function defaultRoot(): string {
  return isRoot() ? '/var/lib/graphdriver' : resolve('.graphdriver');
}

export interface Session {
  root: string;
  driverName: string | undefined;
  options: string[];
}

/**
 * The store root and driver choice. A non-root user who names no driver gets vfs: the
 * other drivers need root, and vfs under a non-root user ignores failing chowns.
 */
export function sessionFor(g: GlobalOptions): Session {
  const root = resolve(g.root ?? defaultRoot());
  const named = g.driver || process.env[DRIVER_ENV] || undefined;
  return { root, driverName: named ?? (isRoot() ? undefined : 'vfs'), options: g.opt };
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
