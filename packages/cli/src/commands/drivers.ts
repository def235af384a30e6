// `drivers`: every registered driver and whether it can run here. Each is initialised for
// real (that is the only honest test); a home the probe itself made is removed again so
// that it does not count as "prior state" when the registry next chooses a driver. A root that
// did not exist is made for the probe (its filesystem decides what runs) and removed again.
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { byPriority, closeDriver, getDriver, makeDirs, registeredDrivers } from '@graphdriver/core';
import { errorCode, errorMessage } from '../cli-errors.js';
import { table } from '../format.js';
import type { Output } from '../output.js';
import { exists, sessionFor, type GlobalOptions } from '../session.js';

export interface DriverProbe {
  name: string;
  usable: boolean;
  /** Why it cannot run, when it cannot. */
  reason?: string;
  code?: string;
  /** Its home under the root holds state from earlier runs. */
  inUse: boolean;
}

export async function probeDriver(root: string, name: string, options: string[]): Promise<DriverProbe> {
  const home = join(root, name);
  const existed = await exists(home);
  try {
    const driver = await getDriver(name, { root, driverOptions: options });
    if (existed) {
      await closeDriver(driver);
    } else {
      await driver.cleanup();
    }
    return { name, usable: true, inUse: existed };
  } catch (err) {
    return { name, usable: false, reason: errorMessage(err), code: errorCode(err), inUse: existed };
  } finally {
    if (!existed) await rm(home, { recursive: true, force: true }).catch(() => {});
  }
}

/** The outermost folder of `path` that does not exist yet (null when `path` exists). */
async function firstMissing(path: string): Promise<string | null> {
  let missing: string | null = null;
  for (let p = path; !(await exists(p)); p = dirname(p)) {
    missing = p;
    if (dirname(p) === p) break;
  }
  return missing;
}

export async function drivers(g: GlobalOptions, out: Output) {
  const s = sessionFor(g);
  const made = await firstMissing(s.root);
  const probes: DriverProbe[] = [];
  try {
    await makeDirs(s.root, 0o700);
    // driver options belong to the driver that was named; the others are probed without them
    for (const name of byPriority(registeredDrivers()))
      probes.push(await probeDriver(s.root, name, name === s.driverName ? s.options : []));
  } finally {
    if (made) await rm(made, { recursive: true, force: true });
  }
  const rows = probes.map((p) => [
    p.name,
    p.usable ? 'yes' : 'no',
    p.usable ? (p.inUse ? 'in use under this root' : '') : `${p.code}: ${p.reason}`,
  ]);
  out.result(
    { root: s.root, drivers: probes },
    table(['DRIVER', 'USABLE', 'NOTE'], rows),
    probes.filter((p) => p.usable).map((p) => p.name),
  );
}
