// The command lines each flavour produces, with recording fakes instead of the real tools:
// the OpenZFS lines cannot run on this machine (no module), so this is where they are pinned.
import { describe, expect, it } from 'vitest';
import { ToolError, type RunResult } from '@graphdriver/core';
import { flavour, type FlavourKind } from './flavour.js';
import { ZfsCli, type Runner, type ZfsTools } from './zfs-cli.js';
import { isAlreadyExists, isBusy, isMissingDataset } from './zfs-errors.js';

type Reply = RunResult | ToolError;

function fakeTools(replies: Record<string, Reply[]> = {}) {
  const calls: string[] = [];
  const runner = (cmd: string): Runner => ({
    async run(args) {
      calls.push([cmd, ...args].join(' '));
      const r = replies[cmd]?.shift() ?? { stdout: '', stderr: '' };
      if (r instanceof ToolError) throw r;
      return r;
    },
  });
  const tools: ZfsTools = { zfs: runner('zfs'), zpool: runner('zpool'), mount: runner('mount'), umount: runner('umount') };
  return { tools, calls };
}

const fail = (cmd: string, stderr: string, exitCode = 1) => new ToolError(cmd, [], exitCode, stderr);

function cli(kind: FlavourKind, replies?: Record<string, Reply[]>) {
  const { tools, calls } = fakeTools(replies);
  return { zfs: new ZfsCli(flavour(kind), tools), calls };
}

describe.each(['openzfs', 'zfs-fuse'] as const)('%s: flavour-neutral command lines', (kind) => {
  it('create, snapshot, clone, rename, destroy end options with --', async () => {
    const { zfs, calls } = cli(kind);
    await zfs.create('tank/gd/.tmp-1', { mountpoint: 'none', 'graphdriver:home': '/var/lib/x' });
    await zfs.snapshot('tank/gd/a@gd-1');
    await zfs.clone('tank/gd/a@gd-1', 'tank/gd/.tmp-2', { quota: '52428800' });
    await zfs.rename('tank/gd/.tmp-2', 'tank/gd/b');
    await zfs.destroy('tank/gd/a@gd-1', { deferred: true });
    await zfs.destroy('tank/gd/b', { recursive: true });
    expect(calls).toEqual([
      'zfs create -o mountpoint=none -o graphdriver:home=/var/lib/x -- tank/gd/.tmp-1',
      'zfs snapshot -- tank/gd/a@gd-1',
      'zfs clone -o quota=52428800 -- tank/gd/a@gd-1 tank/gd/.tmp-2',
      'zfs rename -- tank/gd/.tmp-2 tank/gd/b',
      'zfs destroy -d -- tank/gd/a@gd-1',
      'zfs destroy -r -- tank/gd/b',
    ]);
  });

  it('get uses -p (exact bytes) and reads property/value rows', async () => {
    const { zfs, calls } = cli(kind, { zfs: [{ stdout: 'used\t372736\nquota\t0\ncompression\toff\n', stderr: '' }] });
    expect(await zfs.get('tank/gd', ['used', 'quota', 'compression'])).toEqual({ used: '372736', quota: '0', compression: 'off' });
    expect(calls).toEqual(['zfs get -H -p -o property,value used,quota,compression -- tank/gd']);
  });

  it('set has no -- (zfs-fuse rejects it) and relies on the name check', async () => {
    const { zfs, calls } = cli(kind);
    await zfs.set('tank/gd/a', 'quota', '1048576');
    expect(calls).toEqual(['zfs set quota=1048576 tank/gd/a']);
    await expect(zfs.set('-tank/gd', 'quota', '1')).rejects.toThrow(/refusing/);
    await expect(zfs.set('tank/gd', '-o', '1')).rejects.toThrow(/refusing/);
    await expect(zfs.set('tank/gd', 'mountpoint', '/a\nb')).rejects.toThrow(/refusing/);
    expect(calls).toHaveLength(1);
  });

  it('never passes a name that could be an option', async () => {
    const { zfs, calls } = cli(kind);
    await expect(zfs.create('-o', {})).rejects.toThrow(/refusing/);
    await expect(zfs.destroy('tank/-r')).rejects.toThrow(/refusing/);
    await expect(zfs.rename('tank/a', 'tank/a b')).rejects.toThrow(/refusing/);
    await expect(zfs.mount('tank/a', 'relative/path', [])).rejects.toThrow(/absolute/);
    expect(calls).toEqual([]);
  });

  it('exists is false only for "does not exist"', async () => {
    const { zfs, calls } = cli(kind, {
      zfs: [
        { stdout: 'tank/a\n', stderr: '' },
        fail('zfs', "cannot open 'tank/b': dataset does not exist\n"),
        fail('zfs', 'connect: refused'),
      ],
    });
    expect(await zfs.exists('tank/a')).toBe(true);
    expect(await zfs.exists('tank/b')).toBe(false);
    await expect(zfs.exists('tank/c')).rejects.toThrow(/refused/);
    expect(calls[0]).toBe('zfs list -H -o name -- tank/a');
  });

  it('pool health and the liveness probe', async () => {
    const { zfs, calls } = cli(kind, { zpool: [{ stdout: 'ONLINE\n', stderr: '' }] });
    expect(await zfs.poolHealth('tank')).toBe('ONLINE');
    await zfs.answer();
    expect(calls).toEqual(['zpool list -H -o health -- tank', 'zfs list -H -o name -d 0']);
  });
});

describe('OpenZFS command lines', () => {
  it('layers are mountpoint=legacy, mounted with mount -t zfs and unmounted with umount', async () => {
    const { zfs, calls } = cli('openzfs');
    expect(zfs.unmountedLayerProps()).toEqual({ mountpoint: 'legacy' });
    await zfs.mount('tank/gd/a', '/var/lib/gd/zfs/graph/a', []);
    await zfs.mount('tank/gd/a', '/var/lib/gd/zfs/graph/a', ['noatime', 'context="system_u:object_r:x:s0"']);
    await zfs.unmount('tank/gd/a', '/var/lib/gd/zfs/graph/a');
    expect(calls).toEqual([
      'mount -t zfs -- tank/gd/a /var/lib/gd/zfs/graph/a',
      'mount -t zfs -o noatime,context="system_u:object_r:x:s0" -- tank/gd/a /var/lib/gd/zfs/graph/a',
      'umount -- /var/lib/gd/zfs/graph/a',
    ]);
  });

  it('a busy unmount is detached lazily, as Docker does; "not mounted" is done', async () => {
    const { zfs, calls } = cli('openzfs', {
      umount: [
        fail('umount', 'umount: /m: target is busy.\n', 32),
        { stdout: '', stderr: '' },
        fail('umount', 'umount: /m: not mounted.\n', 32),
      ],
    });
    await zfs.unmount('tank/gd/a', '/m');
    await zfs.unmount('tank/gd/a', '/m');
    expect(calls).toEqual(['umount -- /m', 'umount -l -- /m', 'umount -- /m']);
  });

  it('list uses -p', async () => {
    const { zfs, calls } = cli('openzfs', {
      zfs: [{ stdout: 'tank/gd\t-\tnone\ntank/gd/a\t/h\tlegacy\n', stderr: '' }],
    });
    expect(await zfs.list('tank/gd', { type: 'filesystem', depth: 1, props: ['graphdriver:home', 'mountpoint'] })).toEqual([
      { name: 'tank/gd/a', 'graphdriver:home': '/h', mountpoint: 'legacy' },
    ]);
    expect(calls).toEqual(['zfs list -H -p -o name,graphdriver:home,mountpoint -t filesystem -d 1 -- tank/gd']);
  });
});

describe('zfs-fuse command lines', () => {
  it('layers are mountpoint=none canmount=noauto, mounted by setting the mountpoint', async () => {
    const { zfs, calls } = cli('zfs-fuse');
    expect(zfs.unmountedLayerProps()).toEqual({ mountpoint: 'none', canmount: 'noauto' });
    await zfs.mount('tank/gd/a', '/g/a', []);
    await zfs.mount('tank/gd/a', '/g/a', ['ro']);
    await zfs.unmount('tank/gd/a', '/g/a');
    expect(calls).toEqual([
      'zfs set mountpoint=/g/a tank/gd/a',
      'zfs mount -- tank/gd/a',
      'zfs set mountpoint=/g/a tank/gd/a',
      'zfs mount -o ro -- tank/gd/a',
      'zfs set mountpoint=none tank/gd/a',
    ]);
  });

  it('a dataset the property change already remounted is mounted', async () => {
    const { zfs } = cli('zfs-fuse', {
      zfs: [{ stdout: '', stderr: '' }, fail('zfs', "cannot mount 'tank/gd/a': filesystem already mounted\n")],
    });
    await expect(zfs.mount('tank/gd/a', '/g/a', [])).resolves.toBeUndefined();
  });

  it('list has no -p', async () => {
    const { zfs, calls } = cli('zfs-fuse', { zfs: [{ stdout: 'tank/gd/a@gd-1\toff\n', stderr: '' }] });
    expect(await zfs.list('tank/gd', { type: 'snapshot', depth: 2, props: ['defer_destroy'] })).toEqual([
      { name: 'tank/gd/a@gd-1', defer_destroy: 'off' },
    ]);
    expect(calls).toEqual(['zfs list -H -o name,defer_destroy -t snapshot -d 2 -- tank/gd']);
  });
});

describe('error predicates', () => {
  it('read the stderr zfs prints', () => {
    expect(isMissingDataset(fail('zfs', "cannot open 'x': dataset does not exist"))).toBe(true);
    expect(isBusy(fail('zfs', "cannot destroy 'x': dataset is busy"))).toBe(true);
    expect(isAlreadyExists(fail('zfs', "cannot rename to 'x': dataset already exists"))).toBe(true);
    expect(isBusy(new Error('dataset is busy'))).toBe(false);
  });
});

describe('a full pool', () => {
  // the messages of libzfs (OpenZFS and zfs-fuse alike), mount(8) and a quota'd parent
  const full = [
    "cannot create snapshot 'tank/gd/a@gd-1': out of space\n",
    "cannot set property for 'tank/gd/a': out of space\n",
    'mount: /g/a: mount(2) system call failed: No space left on device.\n',
    "cannot create 'tank/gd/.tmp-1': Disk quota exceeded\n",
  ];
  it.each(full)('is ERR_NO_SPACE, with the tool message kept: %s', async (stderr) => {
    const { zfs } = cli('openzfs', { zfs: [fail('zfs', stderr)] });
    const err = await zfs.snapshot('tank/gd/a@gd-1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_NO_SPACE', message: expect.stringContaining(stderr.trim()) });
    expect((err as Error).cause).toBeInstanceOf(ToolError);
  });

  it('reaches mount and umount too, and leaves other failures ERR_TOOL_FAILED', async () => {
    const { zfs } = cli('openzfs', { mount: [fail('mount', full[2], 32)] });
    await expect(zfs.mount('tank/gd/a', '/g/a', [])).rejects.toMatchObject({ code: 'ERR_NO_SPACE' });
    const other = cli('openzfs', { zfs: [fail('zfs', "cannot open 'tank/gd/a': dataset does not exist\n")] });
    await expect(other.zfs.snapshot('tank/gd/a@gd-1')).rejects.toMatchObject({ code: 'ERR_TOOL_FAILED' });
  });
});
