// lstatQuiet against fs.lstatSync on real entries of every kind, and which implementation a
// process gets: Node's fs binding on Node 20 (eager Dates), plain fs.lstatSync where Dates are
// lazy or where the binding is not safe (pending deprecations, the permission model).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, symlinkSync, writeFileSync, type BigIntStats } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, rmrf, tmp } from '../test-support/trees.js';
import { lstatImplementation, lstatQuiet, type FileStat } from './lstat.js';
import { mknod } from './mknod.js';
import { setTimesNs } from './times.js';

const FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'atimeNs', 'mtimeNs', 'ctimeNs'] as const;
const KINDS = ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isSocket', 'isCharacterDevice', 'isBlockDevice'] as const;

function fields(st: FileStat | BigIntStats): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = st[f];
  for (const k of KINDS) out[k] = st[k]();
  return out;
}

/** The error fs.lstatSync throws for `path`, as the fields a caller tests. */
function errorOf(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, message: e.message };
  }
  throw new Error('did not throw');
}

/** Node 20 builds every Stats with its Dates already made (an own data property). */
const eagerDates = 'value' in (Object.getOwnPropertyDescriptor(lstatSync('/'), 'atime') ?? {});

let root: string;
let server: Server | undefined;
const entries: string[] = [];

beforeAll(async () => {
  root = tmp('gd-lstat-');
  chmodSync(root, 0o755); // searchable by the unprivileged child below
  const add = (name: string) => {
    entries.push(join(root, name));
    return join(root, name);
  };
  writeFileSync(add('file'), 'hello');
  mkdirSync(add('dir'));
  writeFileSync(add('dir/inner'), 'x'.repeat(70_000));
  symlinkSync('file', add('link'));
  symlinkSync('/nowhere/at/all', add('dangling'));
  linkSync(join(root, 'file'), add('hardlink'));
  await mknod(add('fifo'), 'fifo');
  writeFileSync(add('setuid'), '#!/bin/sh\n');
  chmodSync(join(root, 'setuid'), 0o6755);
  mkdirSync(add('sticky'));
  chmodSync(join(root, 'sticky'), 0o1777);
  writeFileSync(add('nanos'), '');
  await setTimesNs(join(root, 'nanos'), 1_700_000_000_123_456_789n, 1_600_000_000_987_654_321n);
  writeFileSync(add('before-epoch'), '');
  await setTimesNs(join(root, 'before-epoch'), -1_500_000_001n); // 1969-12-31T23:59:58.499999999Z
  await setTimesNs(join(root, 'link'), 1_650_000_000_000_000_001n);
  server = createServer();
  const sock = add('sock');
  await new Promise<void>((resolve, reject) => {
    server?.once('error', reject);
    server?.listen(sock, resolve);
  });
  if (process.getuid?.() === 0) {
    await mknod(add('null-dev'), 'char', { major: 1, minor: 3 });
    await mknod(add('big-dev'), 'block', { major: 259, minor: 70_000 });
    writeFileSync(add('odd-owner'), '');
    chownSync(join(root, 'odd-owner'), 123_456, 2_000_000_000);
    chownSync(join(root, 'fifo'), 4_294_967_294, 65_534);
  }
  entries.push(root);
});

afterAll(() => {
  server?.close();
  rmrf(root);
});

describe('lstatQuiet', () => {
  it('gives what fs.lstatSync(bigint) gives, field by field, for every kind of entry', () => {
    expect(entries.length).toBeGreaterThanOrEqual(14);
    for (const path of entries) {
      const st = lstatQuiet(path);
      const ref = lstatSync(path, { bigint: true });
      expect(st, path).toBeDefined();
      expect({ path, ...fields(st as FileStat) }).toEqual({ path, ...fields(ref) });
    }
    // the kinds really are all there (a tree that lost one would pass the loop above)
    const kinds = new Set(entries.map((p) => KINDS.find((k) => (lstatQuiet(p) as FileStat)[k]())));
    expect([...kinds].sort()).toEqual([...KINDS].filter((k) => isRoot || (k !== 'isCharacterDevice' && k !== 'isBlockDevice')).sort());
    expect(lstatQuiet(join(root, 'nanos'))?.mtimeNs).toBe(1_700_000_000_123_456_789n);
    expect(lstatQuiet(join(root, 'before-epoch'))?.mtimeNs).toBe(-1_500_000_001n);
  });

  it.runIf(isRoot)('keeps owners beyond 2^31, set-id bits and device numbers exactly', () => {
    expect(lstatQuiet(join(root, 'odd-owner'))).toMatchObject({ uid: 123_456n, gid: 2_000_000_000n });
    expect(lstatQuiet(join(root, 'fifo'))).toMatchObject({ uid: 4_294_967_294n, gid: 65_534n });
    expect(Number(lstatQuiet(join(root, 'setuid'))?.mode) & 0o7777).toBe(0o6755);
    expect(lstatQuiet(join(root, 'null-dev'))?.rdev).toBe(lstatSync(join(root, 'null-dev'), { bigint: true }).rdev);
    expect(lstatQuiet(join(root, 'big-dev'))?.rdev).toBe(lstatSync(join(root, 'big-dev'), { bigint: true }).rdev);
  });

  it('keeps each result: the next call does not change an earlier one', () => {
    const a = lstatQuiet(join(root, 'file'));
    const before = fields(a as FileStat);
    lstatQuiet(join(root, 'dir/inner'));
    lstatQuiet(join(root, 'nanos'));
    expect(fields(a as FileStat)).toEqual(before);
  });

  it('returns undefined for a missing path', () => {
    expect(lstatQuiet(join(root, 'missing'))).toBeUndefined();
    expect(lstatQuiet(join(root, 'dir', 'missing', 'deeper'))).toBeUndefined();
    expect(lstatQuiet('')).toBeUndefined();
  });

  it('throws the error fs.lstatSync throws otherwise (code, errno, syscall, path, message)', () => {
    const loop = join(root, 'loop');
    symlinkSync('loop', loop);
    const cases = [
      join(root, 'file', 'below-a-file'), // ENOTDIR
      join(loop, 'x'), // ELOOP
      join(root, 'n'.repeat(300)), // ENAMETOOLONG
      `${root}/nul\0byte`, // ERR_INVALID_ARG_VALUE: Node refuses it before any syscall
    ];
    const codes: unknown[] = [];
    for (const path of cases) {
      const ours = errorOf(() => lstatQuiet(path));
      expect(ours).toEqual(errorOf(() => lstatSync(path, { bigint: true, throwIfNoEntry: false })));
      codes.push(ours.code);
    }
    expect(codes).toEqual(['ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'ERR_INVALID_ARG_VALUE']);
  });
});

describe('lstatImplementation', () => {
  it("is Node's fs binding where Dates are eager (Node 20), plain fs.lstatSync where they are lazy", () => {
    const major = Number(process.versions.node.split('.')[0]);
    if (major === 20) expect(eagerDates).toBe(true); // what this check rests on
    if (major >= 22) expect(eagerDates).toBe(false);
    expect(lstatImplementation).toBe(eagerDates ? 'binding' : 'fs');
  });
});

// Child processes import the built package, as a user's process does.
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const childScript = `
const { lstatImplementation, lstatQuiet } = await import(${JSON.stringify(dist)});
const { lstatSync } = await import('node:fs');
const [path, missing, notDir] = process.argv.slice(1);
const st = lstatQuiet(path);
const ref = lstatSync(path, { bigint: true });
const same = ${JSON.stringify(FIELDS)}.every((f) => st[f] === ref[f]) && st.isFile() === ref.isFile();
const errorOf = (fn) => { try { fn(); } catch (e) { return { code: e.code, syscall: e.syscall, path: e.path, message: e.message }; } };
const error = errorOf(() => lstatQuiet(notDir));
const fsError = errorOf(() => lstatSync(notDir, { bigint: true, throwIfNoEntry: false }));
console.log(JSON.stringify({ lstatImplementation, same, missing: lstatQuiet(missing) === undefined, error, fsError }));
`;

async function runChild(
  nodeArgs: string[],
  opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; args?: string[] } = {},
): Promise<{ result: Record<string, unknown>; stderr: string }> {
  const args = opts.args ?? [join(root, 'file'), join(root, 'missing'), join(root, 'file', 'x')];
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [...nodeArgs, '--input-type=module', '-e', childScript, ...args],
    // NODE_OPTIONS from the test runner left out: the child's flags are the ones given here
    { env: { ...process.env, NODE_OPTIONS: '', ...opts.env }, uid: opts.uid, gid: opts.gid },
  );
  return { result: JSON.parse(stdout.trim()), stderr };
}

describe('lstatQuiet in a fresh process (built package)', () => {
  const errorAt = (code: string, path: string) => {
    const error = { code, syscall: 'lstat', path, message: expect.stringMatching(new RegExp(`^${code}: .*, lstat '`)) };
    return { error, fsError: error };
  };
  const expected = (impl: string) => ({
    lstatImplementation: impl,
    same: true,
    missing: true,
    ...errorAt('ENOTDIR', join(root, 'file', 'x')),
  });
  const fast = eagerDates ? 'binding' : 'fs';

  it('uses the binding by default, with no warning at all', async () => {
    const { result, stderr } = await runChild([]);
    expect(result).toEqual(expected(fast));
    expect(stderr).toBe('');
  });

  it('falls back to fs.lstatSync under --pending-deprecation --throw-deprecation, silently', async () => {
    const { result, stderr } = await runChild(['--pending-deprecation', '--throw-deprecation']);
    expect(result).toEqual(expected('fs'));
    expect(stderr).toBe('');
  });

  it('falls back with NODE_PENDING_DEPRECATION=1, and with --throw-deprecation alone keeps the binding', async () => {
    const env = await runChild(['--throw-deprecation'], { env: { NODE_PENDING_DEPRECATION: '1' } });
    expect(env.result).toEqual(expected('fs'));
    expect(env.stderr).toBe('');
    const plain = await runChild(['--throw-deprecation']);
    expect(plain.result).toEqual(expected(fast));
    expect(plain.stderr).toBe('');
  });

  it("falls back under Node's permission model, whose checks the binding would skip", async () => {
    const flag = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
    const { result } = await runChild([flag, '--allow-fs-read=*']);
    expect(result).toEqual(expected('fs'));
  });

  it.runIf(isRoot)('gives EACCES as fs does to a user who may not search a directory', async () => {
    const closed = join(root, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    writeFileSync(join(closed, 'file'), '');
    const { result } = await runChild([], {
      uid: 65_534,
      gid: 65_534,
      args: [join(root, 'file'), join(root, 'missing'), join(closed, 'file')],
    });
    expect(result).toEqual({ ...expected(fast), ...errorAt('EACCES', join(closed, 'file')) });
    expect(result.error).toEqual(result.fsError);
  });
});
