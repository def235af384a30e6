import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Driver, InitFunc } from './driver.js';
import { ErrorCode, errPrerequisites, GraphDriverError, errNotSupported, errIncompatibleFS } from './errors.js';
import { DRIVER_ENV, getDriver, newDriver, priority, register, registeredDrivers, unregister } from './registry.js';

// Registry rules only: each fake init records its call and returns a named stub driver.
const calls: string[] = [];
function fakeDriver(name: string): Driver {
  return { name } as unknown as Driver;
}
function ok(name: string): InitFunc {
  return async (home) => {
    calls.push(`${name}:${home}`);
    return fakeDriver(name);
  };
}
function failing(err: Error): InitFunc {
  return async () => {
    throw err;
  };
}

let root: string;
const mine: string[] = [];
function reg(name: string, init: InitFunc, opts?: { owner?: string }) {
  register(name, init, opts);
  mine.push(name);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'gd-registry-'));
  calls.length = 0;
  delete process.env[DRIVER_ENV];
});
afterEach(async () => {
  for (const n of mine.splice(0)) unregister(n);
  delete process.env[DRIVER_ENV];
  await rm(root, { recursive: true, force: true });
});

async function priorState(name: string) {
  await mkdir(join(root, name), { recursive: true });
  await writeFile(join(root, name, 'state'), 'x');
}

describe('register', () => {
  it('refuses a duplicate name', () => {
    reg('btrfs', ok('btrfs'));
    expect(() => register('btrfs', ok('again'))).toThrow(expect.objectContaining({ code: ErrorCode.DuplicateDriver }));
  });
  it('lets one package register twice (its ESM and CJS builds), but no one else', () => {
    reg('zfs', ok('zfs'), { owner: '@graphdriver/driver-zfs' });
    expect(() => register('zfs', ok('zfs-cjs'), { owner: '@graphdriver/driver-zfs' })).not.toThrow();
    expect(() => register('zfs', ok('other'), { owner: 'someone-else' })).toThrow(
      expect.objectContaining({ code: ErrorCode.DuplicateDriver }),
    );
    expect(() => register('zfs', ok('anon'))).toThrow(expect.objectContaining({ code: ErrorCode.DuplicateDriver }));
  });
  it('lists registered drivers, sorted', () => {
    reg('zfs', ok('zfs'));
    reg('btrfs', ok('btrfs'));
    expect(registeredDrivers()).toEqual(expect.arrayContaining(['btrfs', 'zfs']));
    const listed = registeredDrivers();
    expect([...listed].sort()).toEqual(listed);
  });
  it('keeps one registry per process on globalThis', () => {
    reg('vfs', ok('vfs'));
    const shared = (globalThis as Record<symbol, Map<string, unknown>>)[Symbol.for('@graphdriver/core/registry')];
    expect(shared.has('vfs')).toBe(true);
  });
});

describe('getDriver', () => {
  it('initialises with home = root/name and passes options', async () => {
    let seen: unknown[] = [];
    reg('vfs', async (home, options, idMappings) => {
      seen = [home, options, idMappings];
      return fakeDriver('vfs');
    });
    const ids = { uidMap: [{ containerId: 0, hostId: 1000, size: 1 }], gidMap: [] };
    await getDriver('vfs', { root, driverOptions: ['a=b'], idMappings: ids });
    expect(seen).toEqual([join(root, 'vfs'), ['a=b'], ids]);
  });
  it('an unknown name is "driver not supported"', async () => {
    await expect(getDriver('nope', { root })).rejects.toMatchObject({ code: ErrorCode.NotSupported });
  });
});

describe('newDriver', () => {
  it('uses an explicit name as is, even when another has prior state', async () => {
    reg('btrfs', ok('btrfs'));
    reg('vfs', ok('vfs'));
    await priorState('btrfs');
    expect((await newDriver('vfs', { root })).name).toBe('vfs');
  });
  it('an explicit name that fails is fatal, even if not supported', async () => {
    reg('btrfs', failing(errPrerequisites('btrfs', 'not on btrfs')));
    reg('vfs', ok('vfs'));
    await expect(newDriver('btrfs', { root })).rejects.toMatchObject({ code: ErrorCode.Prerequisites });
  });
  it('takes the GRAPHDRIVER environment variable when no name is given', async () => {
    reg('zfs', ok('zfs'));
    reg('vfs', ok('vfs'));
    process.env[DRIVER_ENV] = 'vfs';
    expect((await newDriver(undefined, { root })).name).toBe('vfs');
  });
  it('prefers the driver with prior state over the priority list', async () => {
    reg('btrfs', ok('btrfs'));
    reg('zfs', ok('zfs'));
    await priorState('zfs');
    expect((await newDriver(undefined, { root })).name).toBe('zfs');
  });
  it('ignores vfs prior state', async () => {
    reg('btrfs', ok('btrfs'));
    reg('vfs', ok('vfs'));
    await priorState('vfs');
    expect((await newDriver(undefined, { root })).name).toBe('btrfs');
  });
  it('ignores an empty prior home', async () => {
    reg('btrfs', failing(errPrerequisites('btrfs', 'x')));
    reg('vfs', ok('vfs'));
    await mkdir(join(root, 'btrfs'));
    expect((await newDriver(undefined, { root })).name).toBe('vfs');
  });
  it('a prior driver that fails is fatal: no silent fallback', async () => {
    reg('btrfs', failing(errPrerequisites('btrfs', 'no longer on btrfs')));
    reg('vfs', ok('vfs'));
    await priorState('btrfs');
    await expect(newDriver(undefined, { root })).rejects.toMatchObject({ code: ErrorCode.Prerequisites });
  });
  it('two prior drivers is an error naming both', async () => {
    reg('btrfs', ok('btrfs'));
    reg('zfs', ok('zfs'));
    reg('vfs', ok('vfs'));
    await priorState('btrfs');
    await priorState('zfs');
    const err = await newDriver(undefined, { root }).catch((e) => e);
    expect(err).toBeInstanceOf(GraphDriverError);
    expect(err.code).toBe(ErrorCode.PriorDrivers);
    expect(err.message).toContain('btrfs');
    expect(err.message).toContain('zfs');
    expect(calls).toEqual([]);
  });
  it('walks the priority list, skipping not-supported and prerequisite failures', async () => {
    reg('btrfs', failing(errPrerequisites('btrfs', 'not on btrfs')));
    reg('zfs', failing(errNotSupported('zfs')));
    reg('devicemapper', failing(errIncompatibleFS('devicemapper', 'tmpfs')));
    reg('vfs', ok('vfs'));
    expect((await newDriver(undefined, { root })).name).toBe('vfs');
    expect(priority.indexOf('btrfs')).toBeLessThan(priority.indexOf('vfs'));
  });
  it('any other error from a priority driver is fatal', async () => {
    reg('btrfs', failing(new Error('disk on fire')));
    reg('vfs', ok('vfs'));
    await expect(newDriver(undefined, { root })).rejects.toThrow('disk on fire');
  });
  it('falls back to any other registered driver after the priority list', async () => {
    reg('btrfs', failing(errPrerequisites('btrfs', 'x')));
    reg('custom', ok('custom'));
    expect((await newDriver(undefined, { root })).name).toBe('custom');
  });
  it('says clearly when no driver can run', async () => {
    reg('btrfs', failing(errPrerequisites('btrfs', 'x')));
    await expect(newDriver(undefined, { root })).rejects.toMatchObject({
      code: ErrorCode.NoDriver,
      message: 'no supported storage driver found',
    });
  });
});
