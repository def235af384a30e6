// The driver registry, after moby's graphdriver.New: explicit choice, then prior state,
// then the priority list, then any registered driver.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Driver, DriverConfig, InitFunc } from './driver.js';
import { ErrorCode, GraphDriverError, errNotSupported, isDriverNotSupported } from './errors.js';

/** Linux preference order, as Docker's. Names not registered are passed over. */
export const priority: readonly string[] = Object.freeze(['overlay2', 'fuse-overlayfs', 'btrfs', 'zfs', 'devicemapper', 'vfs']);

/** Environment variable that names the driver when none is passed (Docker's DOCKER_DRIVER). */
export const DRIVER_ENV = 'GRAPHDRIVER';

// One registry per process, even when several copies of core are installed side by side.
const REGISTRY_KEY = Symbol.for('@graphdriver/core/registry');
interface Registration {
  init: InitFunc;
  owner?: string;
}
type Registry = Map<string, Registration>;
function registry(): Registry {
  const g = globalThis as { [REGISTRY_KEY]?: Registry };
  return (g[REGISTRY_KEY] ??= new Map());
}

/** Options of {@link register}. */
export interface RegisterOptions {
  /**
   * Who registers (a package name). The same owner registering the same name again is not
   * a conflict: it is one package loaded twice, as its ESM and CJS builds can be.
   */
  owner?: string;
}

/**
 * Makes driver `name` available to {@link getDriver} and {@link newDriver}, process-wide (one
 * registry even with several copies of core loaded). Driver packages call it when imported, so
 * `import '@graphdriver/driver-vfs'` is enough to use "vfs".
 *
 * @param name - the driver's name, as Docker's ("vfs", "overlay2", "btrfs").
 * @param init - opens the driver at a home directory.
 * @param opts - `owner`: the registering package, so a second load of it is not a conflict.
 * @throws GraphDriverError ERR_DUPLICATE_DRIVER when `name` is taken by another owner.
 */
export function register(name: string, init: InitFunc, opts: RegisterOptions = {}): void {
  const drivers = registry();
  const prior = drivers.get(name);
  if (prior) {
    if (opts.owner !== undefined && prior.owner === opts.owner) return;
    throw new GraphDriverError(ErrorCode.DuplicateDriver, `driver ${name} is already registered`);
  }
  drivers.set(name, { init, owner: opts.owner });
}

/** Removes a registration; for tests and plugins that reload. */
export function unregister(name: string): boolean {
  return registry().delete(name);
}

/** The registered driver names, sorted. */
export function registeredDrivers(): string[] {
  return [...registry().keys()].sort();
}

/** Initialises driver `name` with home `<root>/<name>`. */
export async function getDriver(name: string, config: DriverConfig): Promise<Driver> {
  const init = registry().get(name)?.init;
  if (!init) throw errNotSupported(name);
  return init(join(config.root, name), config.driverOptions ?? [], config.idMappings);
}

/** Drivers (vfs excepted) that left a non-empty home under root in an earlier run. */
export async function scanPriorDrivers(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of registry().keys()) {
    if (name === 'vfs') continue;
    try {
      if ((await readdir(join(root, name))).length > 0) found.push(name);
    } catch {
      // no home for this driver: no prior state
    }
  }
  return found;
}

/** Names in Docker's preference order (the priority list first, then the rest by name). */
export function byPriority(names: readonly string[]): string[] {
  const rank = (n: string) => (priority.includes(n) ? priority.indexOf(n) : priority.length);
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Opens a driver under `config.root` chosen as Docker chooses: `name`, else the GRAPHDRIVER
 * environment variable, else the one driver whose home under root already holds data, else the
 * first registered driver in {@link priority} order that can run here. Call `cleanup()` (or
 * `close()`) on the result when done: it holds the store's lock.
 *
 * @throws GraphDriverError ERR_NOT_SUPPORTED for an unregistered `name`; ERR_PRIOR_DRIVERS when
 * several drivers left data under root; ERR_NO_DRIVER when no registered driver can run; the
 * chosen driver's own init errors (ERR_PREREQUISITES, ERR_STORE_BUSY, ...).
 */
export async function newDriver(name: string | undefined, config: DriverConfig): Promise<Driver> {
  const chosen = name || process.env[DRIVER_ENV];
  if (chosen) return getDriver(chosen, config);

  // Prior state wins: switching drivers silently would make every stored layer vanish.
  const prior = byPriority(await scanPriorDrivers(config.root));
  if (prior.length > 1) {
    throw new GraphDriverError(
      ErrorCode.PriorDrivers,
      `${config.root} contains several valid graphdrivers: ${prior.join(', ')}; ` + `please clean up or explicitly choose a storage driver`,
    );
  }
  if (prior.length === 1) return getDriver(prior[0], config);

  for (const candidate of byPriority(registeredDrivers())) {
    try {
      return await getDriver(candidate, config);
    } catch (err) {
      if (isDriverNotSupported(err)) continue;
      throw err;
    }
  }
  throw new GraphDriverError(ErrorCode.NoDriver, 'no supported storage driver found');
}
