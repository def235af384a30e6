// Init and the whole OpenZFS code path without OpenZFS: fake zfs/zpool/mount/umount commands
// on PATH log their argv and answer as OpenZFS 2.1 would, so the driver's real command
// sequence (detection, recovery, create, clone, mount, destroy, status) is pinned here.
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, ToolError } from '@graphdriver/core';
import { initZfs, mappedRoot } from './init.js';

const FAKE = String.raw`#!/bin/bash
cmd=$(basename "$0")
echo "$cmd $*" >> "$FAKE_ZFS_LOG"
case "$cmd $*" in
  "zfs version")
    if [ -n "$FAKE_ZFS_VERSION" ]; then printf '%b\n' "$FAKE_ZFS_VERSION"; exit 0; fi
    printf '%b\n' "$FAKE_ZFS_VERSION_ERR" >&2; exit 1;;
  "zfs list -H -o name -d 0") echo tank;;
  "zfs get -H -p -o property,value type -- tank/gd") printf 'type\tfilesystem\n';;
  "zfs get -H -p -o property,value type -- "*) echo "cannot open '$6': dataset does not exist" >&2; exit 1;;
  "zfs list -H -p -o name,graphdriver:home,mountpoint -t filesystem -d 1 -- tank/gd")
    printf 'tank/gd\t-\tnone\ntank/gd/.tmp-0123456789abcdef\t%s\tlegacy\ntank/gd/theirs\t-\tlegacy\n' "$FAKE_HOME";;
  "zfs list -H -p -o name,defer_destroy -t snapshot -d 2 -- tank/gd") printf 'tank/gd/theirs@gd-000000000000\toff\n';;
  "zfs clone "*) if [ -n "$FAKE_FAIL_CLONE" ]; then echo "cannot create 'x': out of space" >&2; exit 1; fi;;
  "zfs destroy -r -- tank/gd/.tmp-"*) echo "cannot open: dataset does not exist" >&2; exit 1;;
  "zpool list -H -o health -- tank") echo ONLINE;;
  "zfs get -H -p -o property,value used,available,quota,compression -- tank/gd")
    printf 'used\t1000\navailable\t2000\nquota\t0\ncompression\tlz4\n';;
esac
exit 0
`;

let work: string;
let bin: string;
let log: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gd-zfs-fake-'));
  bin = join(work, 'bin');
  log = join(work, 'log');
  await import('node:fs/promises').then((fs) => fs.mkdir(bin));
  await writeFile(join(bin, 'fake'), FAKE);
  await chmod(join(bin, 'fake'), 0o755);
  for (const c of ['zfs', 'zpool', 'mount', 'umount']) await symlink('fake', join(bin, c));
  process.env.FAKE_ZFS_LOG = log;
});
afterEach(async () => {
  process.env.PATH = savedPath;
  for (const k of ['FAKE_ZFS_VERSION', 'FAKE_ZFS_VERSION_ERR', 'FAKE_HOME', 'FAKE_FAIL_CLONE']) delete process.env[k];
  await rm(log, { force: true });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The logged command lines, with random name parts made stable. */
async function commands(): Promise<string[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/\.tmp-(?!0123456789abcdef)[0-9a-f]{16}/g, '.tmp-T').replace(/@gd-(?!000000000000)[0-9a-f]{12}/g, '@gd-S'));
}

describe('zfs driver init', () => {
  it('without a zfs command: ERR_PREREQUISITES', async () => {
    process.env.PATH = join(work, 'empty');
    await expect(initZfs(join(work, 'h0'), ['zfs.fsname=tank/gd'])).rejects.toMatchObject({
      code: ErrorCode.Prerequisites,
      message: expect.stringMatching(/not installed/),
    });
  });

  it('zfs-fuse without its daemon: ERR_PREREQUISITES', async () => {
    process.env.PATH = `${bin}:${savedPath}`;
    process.env.FAKE_ZFS_VERSION_ERR = 'connect: No such file or directory\\nPlease make sure that the zfs-fuse daemon is running.';
    await expect(initZfs(join(work, 'h1'), ['zfs.fsname=tank/gd'])).rejects.toMatchObject({
      code: ErrorCode.Prerequisites,
      message: expect.stringMatching(/zfs-fuse daemon is not running/),
    });
    expect(await commands()).toEqual(['zfs version']);
  });

  it('OpenZFS: the whole command sequence of init, create, clone, mount, remove and status', async () => {
    process.env.PATH = `${bin}:${savedPath}`;
    process.env.FAKE_ZFS_VERSION = 'zfs-2.1.11-1\\nzfs-kmod-2.1.11-1';
    const home = join(work, 'h2', 'zfs');
    process.env.FAKE_HOME = home;
    const d = await initZfs(home, ['zfs.fsname=tank/gd', 'zfs.mountopt=noatime']);
    expect(await commands()).toEqual([
      'zfs version',
      'zfs list -H -o name -d 0',
      'zfs get -H -p -o property,value type -- tank/gd',
      'zfs list -H -p -o name,graphdriver:home,mountpoint -t filesystem -d 1 -- tank/gd',
      // a temporary dataset of this home that a crash left: destroyed; "theirs" is not ours
      'zfs destroy -r -- tank/gd/.tmp-0123456789abcdef',
      'zfs list -H -p -o name,defer_destroy -t snapshot -d 2 -- tank/gd',
    ]);
    await rm(log);

    await d.create('a', null);
    await d.create('b', 'a', { storageOpt: { size: '1G' } });
    const root = await d.get('b');
    expect(root).toBe(join(home, 'graph', 'b'));
    await d.put('b');
    await d.remove('b');
    expect(await commands()).toEqual([
      `zfs create -o mountpoint=legacy -o graphdriver:home=${home} -- tank/gd/.tmp-T`,
      'zfs rename -- tank/gd/.tmp-T tank/gd/a',
      'zfs snapshot -- tank/gd/a@gd-S',
      `zfs clone -o mountpoint=legacy -o graphdriver:home=${home} -o quota=1073741824 -- tank/gd/a@gd-S tank/gd/.tmp-T`,
      'zfs destroy -d -- tank/gd/a@gd-S',
      'zfs rename -- tank/gd/.tmp-T tank/gd/b',
      `mount -t zfs -o noatime -- tank/gd/b ${home}/graph/b`,
      // put: core measures the layer's size before its last reference goes (the naive diff
      // against its parent, which is mounted for it); the fake mounts left nothing in
      // mountinfo, so there is nothing to unmount afterwards
      `mount -t zfs -o noatime -- tank/gd/a ${home}/graph/a`,
      'zfs destroy -r -- tank/gd/b',
    ]);
    await rm(log);

    expect(await d.status()).toEqual([
      ['Zpool', 'tank'],
      ['Zpool Health', 'ONLINE'],
      ['Parent Dataset', 'tank/gd'],
      ['Space Used By Parent', '1000'],
      ['Space Available', '2000'],
      ['Parent Quota', 'no'],
      ['Compression', 'lz4'],
      ['Implementation', 'OpenZFS 2.1.11-1'],
    ]);
    expect(await d.getMetadata('a')).toEqual({ Mountpoint: join(home, 'graph', 'a'), Dataset: 'tank/gd/a' });

    // a clone failed by a full pool: ERR_NO_SPACE (the tool's error its cause); the temporary
    // dataset and the snapshot are cleaned, the layer is not made
    process.env.FAKE_FAIL_CLONE = '1';
    await rm(log);
    await expect(d.create('c', 'a')).rejects.toMatchObject({ code: ErrorCode.NoSpace, cause: expect.any(ToolError) });
    expect(await d.list()).toEqual(['a']);
    expect(await commands()).toEqual([
      'zfs snapshot -- tank/gd/a@gd-S',
      `zfs clone -o mountpoint=legacy -o graphdriver:home=${home} -- tank/gd/a@gd-S tank/gd/.tmp-T`,
      'zfs destroy -r -- tank/gd/.tmp-T',
      'zfs destroy -d -- tank/gd/a@gd-S',
      // core's own clean-up of the failed id
      'zfs destroy -r -- tank/gd/c',
    ]);
    await d.cleanup();
  });

  it('a missing zfs.fsname dataset is ERR_INVALID_OPTION', async () => {
    process.env.PATH = `${bin}:${savedPath}`;
    process.env.FAKE_ZFS_VERSION = 'zfs-2.1.11-1';
    await expect(initZfs(join(work, 'h3'), ['zfs.fsname=tank/nope'])).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
  });
});

describe('mappedRoot', () => {
  it('is undefined for identity mappings and the mapped ids otherwise', () => {
    expect(mappedRoot(undefined)).toBeUndefined();
    expect(mappedRoot({ uidMap: [{ containerId: 0, hostId: 0, size: 65536 }], gidMap: [] })).toBeUndefined();
    expect(
      mappedRoot({
        uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
        gidMap: [{ containerId: 0, hostId: 200000, size: 65536 }],
      }),
    ).toEqual({ uid: 100000, gid: 200000 });
  });
});
