// The built binary, driven as a user would: a temporary store root, real files, exit
// statuses, stdout/stderr and the JSON shapes scripts rely on. The vfs driver is used
// (it runs everywhere); the OCI interop tests live in oci-interop.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBackingSystem, underCi } from '@graphdriver/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, runInTerminal, runJson, screenLines } from './test-support/run-cli.js';

let work: string;
let root: string;
/**
 * Whether a non-root user can run overlay2 here: fuse-overlayfs installed and /dev/fuse open to
 * everyone (install.sh makes it so, as Debian's udev rules do; so under CI it must be).
 */
function rootlessOverlay(): boolean {
  const installed = ['/usr/bin/fuse-overlayfs', '/usr/local/bin/fuse-overlayfs'].some((p) => existsSync(p));
  const fuseMode = statSync('/dev/fuse', { throwIfNoEntry: false })?.mode ?? 0;
  const usable = installed && (fuseMode & 0o006) === 0o006;
  // not a skip elsewhere (the tests then expect vfs), but CI must have it: core's rule fails there
  if (!usable && underCi())
    requireBackingSystem('the rootless overlay2 CLI tests', 'fuse-overlayfs or a /dev/fuse open to users is missing');
  return usable;
}

/** Global options every call gets: a private root and the vfs driver. */
const g = () => ['--root', root, '--driver', 'vfs'];

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
  work = await mkdtemp(join(tmpdir(), 'gd-cli-'));
  root = join(work, 'root');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A layer tar made by GNU tar from a small tree. */
async function makeTar(name: string): Promise<{ tar: string; dir: string }> {
  const dir = join(work, `${name}-src`);
  await mkdir(join(dir, 'etc/app'), { recursive: true });
  await writeFile(join(dir, 'etc/app/conf'), `name=${name}\n`);
  await writeFile(join(dir, 'hello'), 'hello\n');
  await chmod(join(dir, 'hello'), 0o751);
  const tar = join(work, `${name}.tar`);
  execFileSync('tar', ['--numeric-owner', '-cf', tar, '-C', dir, '.']);
  return { tar, dir };
}

describe('usage and errors', () => {
  it('prints help and version with status 0', async () => {
    const help = await runCli(['--help']);
    expect(help.status).toBe(0);
    for (const cmd of [
      'create',
      'rm',
      'ls',
      'mount',
      'unmount',
      'status',
      'info',
      'changes',
      'diff',
      'apply',
      'size',
      'drivers',
      'import',
      'export',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    }
    const version = await runCli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command is a usage error: status 2, one line with the code', async () => {
    const r = await runCli([...g(), 'frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^graphdriver: ERR_USAGE: unknown command 'frobnicate'/);
  });

  it('no command, or a missing argument, is a usage error too', async () => {
    const none = await runCli([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Usage: graphdriver/);
    const noId = await runCli([...g(), 'create']);
    expect(noId.status).toBe(2);
    expect(noId.stderr).toBe("graphdriver: ERR_USAGE: missing required argument 'id' (see graphdriver --help)\n");
  });

  it('a missing layer: status 1, the error code, no stack unless --debug', async () => {
    const r = await runCli([...g(), 'rm', 'no-such-layer']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('graphdriver: ERR_LAYER_NOT_FOUND: layer no-such-layer does not exist\n');

    const json = await runCli([...g(), '--json', 'info', 'no-such-layer']);
    expect(json.status).toBe(1);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'ERR_LAYER_NOT_FOUND', message: 'layer no-such-layer does not exist' } });

    const debug = await runCli([...g(), '--debug', 'rm', 'no-such-layer']);
    expect(debug.status).toBe(1);
    expect(debug.stderr).toMatch(/ERR_LAYER_NOT_FOUND/);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('an invalid id and an unknown driver are typed errors', async () => {
    const bad = await runCli([...g(), 'create', '../escape']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^graphdriver: ERR_INVALID_ID: /);
    const nodriver = await runCli(['--root', root, '--driver', 'nosuch', 'ls']);
    expect(nodriver.status).toBe(1);
    expect(nodriver.stderr).toBe('graphdriver: ERR_NOT_SUPPORTED: driver not supported: nosuch\n');
  });

  it('global options are accepted after the command too', async () => {
    const r = await runCli(['ls', '--root', root, '--driver', 'vfs', '--json']);
    expect(r.status).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
  });
});

describe('layers', () => {
  it('create, ls, info, size, rm, with their JSON shapes', async () => {
    expect(await runJson([...g(), 'create', 'base'])).toEqual({ id: 'base', parent: null, rw: false });
    const { tar } = await makeTar('base');
    const applied = await runJson<{ id: string; size: number; compression: string }>([...g(), 'apply', 'base', tar]);
    expect(applied).toMatchObject({ id: 'base', parent: null, compression: 'none' });
    expect(applied.size).toBe('name=base\n'.length + 'hello\n'.length);
    expect(await runJson([...g(), 'create', 'child', '--parent', 'base'])).toEqual({ id: 'child', parent: 'base', rw: false });
    expect(await runJson([...g(), 'create', 'ctr', '--parent', 'child', '--rw'])).toEqual({ id: 'ctr', parent: 'child', rw: true });

    const ls = await runJson<Array<Record<string, unknown>>>([...g(), 'ls']);
    const byId = Object.fromEntries(ls.map((l) => [l.id, l]));
    expect(Object.keys(byId).sort()).toEqual(['base', 'child', 'ctr']);
    expect(byId.base).toMatchObject({ parent: null, rw: false, size: applied.size, mounts: 0 });
    expect(byId.child).toMatchObject({ parent: 'base', rw: false, size: 0 });
    expect(byId.ctr).toMatchObject({ parent: 'child', rw: true, size: 0 });
    for (const l of ls) expect(Date.parse(l.created as string)).not.toBeNaN();

    const text = await runCli([...g(), 'ls']);
    expect(text.stdout.split('\n')[0]).toMatch(/^ID\s+PARENT\s+MODE\s+SIZE\s+CREATED\s+MOUNTS$/);
    const quiet = await runCli([...g(), '-q', 'ls']);
    expect(quiet.stdout.split('\n').filter(Boolean).sort()).toEqual(['base', 'child', 'ctr']);

    const info = await runJson<Record<string, unknown>>([...g(), 'info', 'child']);
    expect(info).toMatchObject({ id: 'child', parent: 'base', rw: false, state: 'complete', mounts: 0 });
    expect(typeof info.metadata).toBe('object');

    const busy = await runCli([...g(), 'rm', 'base']);
    expect(busy.status).toBe(1);
    expect(busy.stderr).toMatch(/^graphdriver: ERR_LAYER_BUSY: layer base is busy: it has child layers: child/);

    expect(await runJson([...g(), 'rm', 'ctr'])).toEqual({ id: 'ctr', removed: true });
    expect(await runJson([...g(), 'rm', 'child'])).toEqual({ id: 'child', removed: true });
    expect((await runJson<unknown[]>([...g(), 'ls'])).length).toBe(1);
  });

  it('mount in one process and unmount in another; the store lock is let go after each command', async () => {
    await runJson([...g(), 'create', 'm1']);
    const { path } = await runJson<{ id: string; path: string }>([...g(), 'mount', 'm1']);
    expect(existsSync(path)).toBe(true);
    expect(existsSync(join(root, 'vfs', 'lock'))).toBe(false);
    await writeFile(join(path, 'written-while-mounted'), 'x');
    expect((await runJson<Array<{ id: string; mounts: number }>>([...g(), 'ls'])).find((l) => l.id === 'm1')?.mounts).toBe(1);

    const plain = await runCli([...g(), 'mount', 'm1']);
    expect(plain.stdout).toBe(`${path}\n`);
    expect(await runJson([...g(), 'unmount', 'm1'])).toEqual({ id: 'm1', mounts: 1 });
    expect(await runJson([...g(), 'unmount', 'm1'])).toEqual({ id: 'm1', mounts: 0 });
    const changes = await runJson<Array<{ path: string; kind: string }>>([...g(), 'changes', 'm1']);
    expect(changes).toEqual([{ path: '/written-while-mounted', kind: 'A' }]);
    await runJson([...g(), 'rm', 'm1']);
  });

  it('status names the driver and the root', async () => {
    const s = await runJson<{ driver: string; root: string; status: Record<string, string> }>([...g(), 'status']);
    expect(s.driver).toBe('vfs');
    expect(s.root).toBe(root);
    expect(typeof s.status).toBe('object');
    const text = await runCli([...g(), 'status']);
    expect(text.stdout).toMatch(/^Driver: vfs\nRoot: /);
  });

  it('without --driver, the registry chooses (overlay2 first) and GRAPHDRIVER is honoured', async () => {
    const own = join(work, 'auto-root');
    await runJson(['--root', own, 'create', 'auto']);
    const auto = await runJson<{ driver: string }>(['--root', own, 'status']);
    // Docker's order: overlay2 first, where the kernel mounts it (root on ext4 here)
    expect(auto.driver).toBe(process.getuid?.() === 0 || rootlessOverlay() ? 'overlay2' : 'vfs');
    const env = await runCli(['--root', own, 'status'], { env: { GRAPHDRIVER: 'nosuch' } });
    expect(env.status).toBe(1);
    expect(env.stderr).toMatch(/ERR_NOT_SUPPORTED: driver not supported: nosuch/);
  });

  it('drivers lists every registered driver with the reason when it cannot run, and leaves no home behind', async () => {
    const own = join(work, 'drivers-root');
    await mkdir(own);
    const r = await runJson<{ root: string; drivers: Array<{ name: string; usable: boolean; reason?: string; code?: string }> }>([
      '--root',
      own,
      'drivers',
    ]);
    const vfs = r.drivers.find((d) => d.name === 'vfs');
    expect(vfs).toMatchObject({ usable: true });
    expect(r.drivers[0].name).toBe('overlay2'); // first in Docker's priority order
    if (process.getuid?.() === 0 || rootlessOverlay()) expect(r.drivers[0]).toMatchObject({ usable: true });
    else expect(r.drivers[0]).toMatchObject({ usable: false, code: 'ERR_PREREQUISITES' });
    for (const d of r.drivers) {
      if (!d.usable) {
        expect(d.code).toMatch(/^ERR_/);
        expect(d.reason).toBeTruthy();
      }
    }
    // a probe must not look like prior state to the registry's next choice
    expect(await readdir(own)).toEqual([]);
  });
});

describe('diff and apply', () => {
  it('applies plain, gzip and zstd tars (told by their magic) and from stdin', async () => {
    const { tar } = await makeTar('fmt');
    execFileSync('sh', ['-c', `gzip -c '${tar}' > '${tar}.gz' && zstd -q -c '${tar}' > '${tar}.zst'`]);
    const raw = await readFile(tar);
    const cases: Array<[string, string[], Buffer | undefined, string]> = [
      ['plain', [tar], undefined, 'none'],
      ['gz', [`${tar}.gz`], undefined, 'gzip'],
      ['zst', [`${tar}.zst`], undefined, 'zstd'],
      ['stdin', ['-'], await readFile(`${tar}.zst`), 'zstd'],
      ['stdin-implicit', [], raw, 'none'],
    ];
    for (const [id, file, input, compression] of cases) {
      await runJson([...g(), 'create', id]);
      const r = await runJson<{ compression: string; size: number }>([...g(), 'apply', id, ...file], { input });
      expect(r.compression, id).toBe(compression);
      const changes = await runJson<Array<{ path: string; kind: string }>>([...g(), 'changes', id]);
      expect(
        changes.map((c) => `${c.kind} ${c.path}`),
        id,
      ).toEqual(['A /etc', 'A /etc/app', 'A /etc/app/conf', 'A /hello']);
    }
    // garbage is an archive error, and the layer is left incomplete, not listed
    await runJson([...g(), 'create', 'garbage']);
    const bad = await runCli([...g(), 'apply', 'garbage', '-'], { input: Buffer.alloc(1024, 7) });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^graphdriver: ERR_INVALID_ARCHIVE: /);
    expect((await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id)).not.toContain('garbage');
  });

  it('a plain tar FILE (read directly by core) gives the layer that the same bytes from stdin give', async () => {
    // Several MiB, files straddling the direct path's 1 MiB reads, and a long name.
    const dir = join(work, 'direct-src');
    await mkdir(join(dir, 'd'), { recursive: true });
    for (let i = 0; i < 9; i++) await writeFile(join(dir, 'd', `f${i}`), Buffer.alloc(700_001 + i * 13, i + 1));
    await writeFile(join(dir, 'd', 'l'.repeat(150)), 'long\n');
    const tar = join(work, 'direct.tar');
    execFileSync('tar', ['--numeric-owner', '-cf', tar, '-C', dir, '.']);
    await runJson([...g(), 'create', 'direct-file']);
    await runJson([...g(), 'create', 'direct-stdin']);
    const fromFile = await runJson<{ compression: string; size: number }>([...g(), 'apply', 'direct-file', tar]);
    const fromStdin = await runJson<{ compression: string; size: number }>([...g(), 'apply', 'direct-stdin', '-'], {
      input: await readFile(tar),
    });
    expect(fromFile).toMatchObject({ compression: 'none', size: fromStdin.size });
    expect(fromFile.size).toBe(9 * 700_001 + 13 * 36 + 5);
    const a = await runCli([...g(), 'diff', 'direct-file', '--parent', '']);
    const b = await runCli([...g(), 'diff', 'direct-stdin', '--parent', '']);
    const listing = (t: Buffer) => execFileSync('tar', ['-tv', '--numeric-owner', '--full-time'], { input: t, encoding: 'utf8' });
    expect(listing(a.stdoutBytes)).toBe(listing(b.stdoutBytes));
    for (let i = 0; i < 9; i++) {
      const got = execFileSync('tar', ['-xO', `d/f${i}`], { input: a.stdoutBytes, maxBuffer: 8 << 20 });
      expect(got.equals(Buffer.alloc(700_001 + i * 13, i + 1)), `d/f${i}`).toBe(true);
    }
  });

  it('diff writes a layer tar to a file or to stdout, and refuses a terminal', async () => {
    const { tar } = await makeTar('d');
    await runJson([...g(), 'create', 'd0']);
    await runJson([...g(), 'apply', 'd0', tar]);
    await runJson([...g(), 'create', 'd1', '--parent', 'd0']);
    const { path } = await runJson<{ path: string }>([...g(), 'mount', 'd1']);
    await writeFile(join(path, 'hello'), 'changed\n');
    await rm(join(path, 'etc/app/conf'));
    await runJson([...g(), 'unmount', 'd1']);

    const out = join(work, 'd1.tar');
    const r = await runJson<{ file: string; bytes: number; parent: string }>([...g(), 'diff', 'd1', '-o', out]);
    expect(r).toMatchObject({ file: out, parent: 'd0' });
    const listing = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(listing).toEqual(expect.arrayContaining(['hello', 'etc/app/.wh.conf']));
    expect(listing).not.toContain('etc/app/conf');

    const piped = await runCli([...g(), 'diff', 'd1']);
    expect(piped.status).toBe(0);
    expect(piped.stdoutBytes.length).toBe(r.bytes);
    // the file holds the very bytes stdout gets, and the reported count is the file's size
    expect((await readFile(out)).equals(piped.stdoutBytes)).toBe(true);
    expect(statSync(out).size).toBe(r.bytes);

    const all = await runCli([...g(), 'diff', 'd1', '--parent', '']);
    expect(execFileSync('tar', ['-t'], { input: all.stdoutBytes, encoding: 'utf8' })).toMatch(/etc\/app\/\n/);

    const size = await runJson<{ size: number }>([...g(), 'size', 'd1']);
    expect(size.size).toBe('changed\n'.length);
    const changes = await runCli([...g(), 'changes', 'd1']);
    expect(changes.stdout).toBe('C /etc\nC /etc/app\nD /etc/app/conf\nC /hello\n');

    const tty = await runInTerminal([...g(), 'diff', 'd1']);
    expect(tty.status).toBe(1);
    expect(tty.stdout).toMatch(/ERR_TERMINAL: refusing to write a tar archive to a terminal/);
  });
});

const kernelOverlay = requireBackingSystem(
  'the CLI --driver overlay2 tests',
  process.getuid?.() === 0 ? null : 'kernel overlay needs root',
);

describe.runIf(kernelOverlay)('--driver overlay2', () => {
  it('creates, applies, mounts in one process and unmounts in another, and diffs', async () => {
    const o = () => ['--root', join(work, 'overlay-root'), '--driver', 'overlay2'];
    const { tar } = await makeTar('o');
    await runJson([...o(), 'create', 'o0']);
    await runJson([...o(), 'apply', 'o0', tar]);
    await runJson([...o(), 'create', 'o1', '--parent', 'o0']);
    const { path } = await runJson<{ path: string }>([...o(), 'mount', 'o1']);
    expect(path).toBe(join(work, 'overlay-root', 'overlay2', 'o1', 'merged'));
    expect(await readFile(join(path, 'etc/app/conf'), 'utf8')).toBe('name=o\n');
    await writeFile(join(path, 'hello'), 'changed\n');
    await rm(join(path, 'etc/app/conf'));
    await runJson([...o(), 'unmount', 'o1']);
    const changes = await runCli([...o(), 'changes', 'o1']);
    expect(changes.stdout).toBe('C /etc\nC /etc/app\nD /etc/app/conf\nC /hello\n');
    const out = join(work, 'o1.tar');
    await runJson([...o(), 'diff', 'o1', '-o', out]);
    const listing = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(listing).toEqual(['etc/', 'etc/app/', 'etc/app/.wh.conf', 'hello']);
    const status = await runCli([...o(), 'status']);
    expect(status.stdout).toMatch(/^Driver: overlay2\n/);
    expect(status.stdout).toMatch(/Native Overlay Diff: true/);
    for (const id of ['o1', 'o0']) await runJson([...o(), 'rm', id]);
  });
});

describe('progress', () => {
  it('draws on a terminal, and not with --json or -q or when stderr is not one', async () => {
    const big = join(work, 'big');
    await mkdir(big);
    await writeFile(join(big, 'blob'), Buffer.alloc(8 << 20, 1));
    const tar = join(work, 'big.tar');
    execFileSync('tar', ['-cf', tar, '-C', big, '.']);
    await runJson([...g(), 'create', 'p1']);
    const tty = await runInTerminal([...g(), 'apply', 'p1', tar]);
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/\r\x1b\[2Kapply p1 .*%/);
    expect(tty.stdout).toMatch(/\/s/);

    await runJson([...g(), 'create', 'p2']);
    const quiet = await runInTerminal([...g(), '-q', 'apply', 'p2', tar]);
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).not.toMatch(/\x1b/);

    await runJson([...g(), 'create', 'p3']);
    const piped = await runCli([...g(), 'apply', 'p3', tar]);
    expect(piped.stderr).toBe('');
  });

  it('on a terminal, the result line starts at column 0 with no progress text before it (apply, diff -o, export)', async () => {
    const big = join(work, 'big2');
    await mkdir(big);
    await writeFile(join(big, 'blob'), Buffer.alloc(8 << 20, 2));
    const tar = join(work, 'big2.tar');
    execFileSync('tar', ['-cf', tar, '-C', big, '.']);
    await runJson([...g(), 'create', 'r1']);
    const cases: Array<[string[], RegExp]> = [
      [['apply', 'r1', tar], /^r1: applied \d+ bytes \(plain tar\)$/],
      [['diff', 'r1', '-o', join(work, 'r1.tar')], new RegExp(`^${join(work, 'r1.tar')}: \\d+ bytes$`)],
      [['export', 'r1', `oci:${join(work, 'r1-oci')}:t`], /^exported r1 to oci:.*: manifest sha256:[0-9a-f]{64}$/],
    ];
    for (const [args, result] of cases) {
      const tty = await runInTerminal([...g(), ...args]);
      expect(tty.status, tty.stdout).toBe(0);
      // the progress line was drawn, so there was something to clear
      expect(tty.stdout, args[0]).toMatch(/\r\x1b\[2K\S.*\/s/);
      const screen = screenLines(tty.stdout);
      expect(
        screen.filter((l) => result.test(l)),
        `${args[0]}: ${JSON.stringify(screen)}`,
      ).toHaveLength(1);
      // no line holds a result glued to progress text, and no progress text is left on screen
      expect(
        screen.filter((l) => /\/s\b/.test(l)),
        `${args[0]}: ${JSON.stringify(screen)}`,
      ).toEqual([]);
    }
  });
});

describe('as a non-root user', () => {
  /** A fresh user home (uid 65534) and the options that run the CLI as that user in it. */
  async function userHome(name: string, env: Record<string, string | undefined> = {}) {
    const home = join(work, name);
    await mkdir(home);
    await chmod(work, 0o755);
    execFileSync('chown', ['65534:65534', home]);
    return {
      home,
      as: { cwd: home, uid: 65534, gid: 65534, env: { HOME: home, XDG_DATA_HOME: undefined, GRAPHDRIVER_ROOT: undefined, ...env } },
    };
  }

  it('defaults to ~/.local/share/graphdriver (not the current directory), overlay2 through fuse-overlayfs where a user can mount it, else vfs', async () => {
    const { home, as } = await userHome('user');
    const driver = rootlessOverlay() ? 'overlay2' : 'vfs';
    const { tar } = await makeTar('user');
    await chmod(tar, 0o644);
    expect((await runCli(['create', 'u1'], as)).status).toBe(0);
    const applied = await runCli(['--json', 'apply', 'u1', tar], as);
    expect(applied.status, applied.stderr).toBe(0);
    const s = await runJson<{ driver: string; root: string }>(['status'], as);
    expect(s).toEqual(expect.objectContaining({ driver, root: join(home, '.local/share/graphdriver') }));
    expect(existsSync(join(home, '.local/share/graphdriver', driver))).toBe(true);
    expect(existsSync(join(home, '.graphdriver'))).toBe(false);
    const changes = await runJson<Array<{ path: string }>>(['changes', 'u1'], as);
    expect(changes.map((c) => c.path)).toContain('/etc/app/conf');
  });

  it('$XDG_DATA_HOME, then $GRAPHDRIVER_ROOT, then --root choose the store', async () => {
    const { home, as } = await userHome('xdg');
    const xdg = { ...as, env: { ...as.env, XDG_DATA_HOME: join(home, 'data') } };
    await runJson(['create', 'x1'], xdg);
    expect((await runJson<{ root: string }>(['status'], xdg)).root).toBe(join(home, 'data/graphdriver'));
    expect(existsSync(join(home, 'data/graphdriver', rootlessOverlay() ? 'overlay2' : 'vfs'))).toBe(true);
    // a relative XDG_DATA_HOME is ignored, as the XDG spec says
    const rel = { ...as, env: { ...as.env, XDG_DATA_HOME: 'data' } };
    expect((await runJson<{ root: string }>(['status'], rel)).root).toBe(join(home, '.local/share/graphdriver'));
    const env = { ...xdg, env: { ...xdg.env, GRAPHDRIVER_ROOT: join(home, 'by-env') } };
    expect((await runJson<{ root: string }>(['status'], env)).root).toBe(join(home, 'by-env'));
    expect((await runJson<{ root: string }>(['--root', join(home, 'by-flag'), 'status'], env)).root).toBe(join(home, 'by-flag'));
  });

  it('read-only commands (ls, info, status, drivers, check) create nothing where there is no store', async () => {
    const { home, as } = await userHome('readonly');
    const before = await readdir(home);
    const ls = await runCli(['--json', 'ls'], as);
    expect(ls.status, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([]);
    const st = await runJson<{ root: string; exists: boolean }>(['status'], as);
    expect(st).toEqual(expect.objectContaining({ root: join(home, '.local/share/graphdriver'), exists: false }));
    const info = await runCli(['info', 'nope'], as);
    expect(info.status).not.toBe(0);
    expect(info.stderr).toMatch(/^graphdriver: ERR_LAYER_NOT_FOUND: layer nope does not exist: there is no store at /);
    const dr = await runJson<{ drivers: Array<{ name: string; usable: boolean }> }>(['drivers'], as);
    expect(dr.drivers.find((d) => d.name === 'vfs')?.usable).toBe(true);
    const check = await runCli(['check'], as);
    expect(check.stderr).not.toMatch(/ERR_INTERNAL/);
    expect(await readdir(home)).toEqual(before);
    // and the same against a named root that does not exist, as root, with every driver probed
    const nowhere = join(work, 'no-such-root', 'store');
    for (const cmd of [['ls'], ['status'], ['info', 'x'], ['drivers'], ['check']]) await runCli(['--root', nowhere, ...cmd]);
    expect(existsSync(join(work, 'no-such-root'))).toBe(false);
  });
});
