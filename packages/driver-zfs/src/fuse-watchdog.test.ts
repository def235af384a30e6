// The zfs-fuse watchdog for real: the daemon is stopped (SIGSTOP, as its own deadlock
// leaves it: alive, answering nothing) while a diff reads a mounted layer. Without the
// watchdog the read sleeps in the kernel for good; with it the diff fails with ERR_HUNG,
// the layer's FUSE connection is aborted, and the process is free again. The daemon is
// shared by every zfs test on the machine, so it is stopped only while this process has
// it to itself (withDaemonToMyself), and always continued.
import { execFileSync } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type Driver } from '@graphdriver/core';
import { mountAt, readMountInfo } from '@graphdriver/core/linux';
import { initZfs } from './init.js';
import { fuseConnectionId, FUSE_CONNECTIONS } from './fuse-watchdog.js';
import { parseZfsOptions } from './options.js';
import { makeZfsFusePool, withDaemonToMyself, zfsFuseGate, type TestPool } from './test-support/zfs-fuse.js';

const gate = await zfsFuseGate('driver-zfs fuse watchdog');

describe('zfs.hangtimeout', () => {
  it('defaults to 10 s, takes seconds, 0 turns the watchdog off, refuses anything else', () => {
    expect(parseZfsOptions([]).hangTimeoutMs).toBe(10_000);
    expect(parseZfsOptions(['zfs.hangtimeout=2.5']).hangTimeoutMs).toBe(2500);
    expect(parseZfsOptions(['zfs.hangtimeout=3s']).hangTimeoutMs).toBe(3000);
    expect(parseZfsOptions(['zfs.hangtimeout=0']).hangTimeoutMs).toBe(0);
    expect(() => parseZfsOptions(['zfs.hangtimeout=soon'])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
  });

  it("names a mount's FUSE connection by its device number", () => {
    expect(fuseConnectionId(0, 57)).toBe(57);
    expect(fuseConnectionId(1, 2)).toBe((1 << 20) + 2);
  });
});

describe.skipIf(gate.skip)('zfs-fuse watchdog against a stopped daemon', () => {
  let pool: TestPool;
  let driver: Driver | undefined;

  beforeAll(async () => {
    pool = await makeZfsFusePool();
  });
  afterAll(async () => {
    await driver?.cleanup().catch(() => {});
    await pool?.teardown();
  });

  if (gate.reason)
    it('has zfs-fuse (required in CI)', () => {
      throw new Error(`zfs-fuse is unavailable: ${gate.reason}`);
    });

  it('a diff reading a layer of a hung daemon fails with ERR_HUNG and its FUSE connection is aborted', { timeout: 900_000 }, async () => {
    const fsname = `${pool.pool}/wd`;
    await pool.createDataset(fsname, { mountpoint: 'none' });
    const home = join(pool.workdir, 'home', 'zfs');
    const d = await initZfs(home, [`zfs.fsname=${fsname}`], undefined, { watchdog: { intervalMs: 500, timeoutMs: 8000 } });
    driver = d;
    await d.create('l', null);
    const root = await d.get('l'); // mounted, and kept mounted: the diff needs no zfs command
    for (let i = 0; i < 50; i++) {
      await mkdir(join(root, `d${i}`));
      await writeFile(join(root, `d${i}`, 'f'), `file ${i}\n`);
    }
    const mount = mountAt(await readMountInfo(), root);
    expect(mount?.fstype).toBe('fuse.zfs');
    const connection = join(FUSE_CONNECTIONS, String(fuseConnectionId(mount!.major, mount!.minor)));

    const outcome = await withDaemonToMyself(async (daemon) => {
      process.kill(daemon, 'SIGSTOP');
      try {
        const tar = await d.diff('l', null);
        const read = (async () => {
          for await (const _ of tar) {
            // the tree walk blocks in FUSE on the first entry
          }
        })();
        const err = await read.then(
          () => undefined,
          (e: unknown) => e,
        );
        // the mount is dead now: calls fail at once instead of sleeping
        const after = await stat(join(root, 'd0')).then(
          () => 'answered',
          (e: NodeJS.ErrnoException) => e.code,
        );
        return { err, after };
      } finally {
        process.kill(daemon, 'SIGCONT');
      }
    });
    expect(outcome.err).toMatchObject({ code: ErrorCode.Hung });
    expect((outcome.err as Error).message).toMatch(/zfs-fuse daemon does not answer/);
    expect(outcome.after).toBe('ENOTCONN');
    await stat(connection); // the watchdog mounted the FUSE control filesystem where it was missing

    // the dead mount goes with a lazy unmount; the store is usable again once it is gone
    execFileSync('umount', ['-l', root]);
    await d.put('l').catch(() => {});
    await d.remove('l', { force: true });
    expect(await d.list()).toEqual([]);
  });
});
