// Hostile input through the command line: the malicious tarball corpus of core
// (testing/hostile-tars.ts) fed to `graphdriver apply` from files and from stdin, and
// malformed arguments (ids, options, sizes, roots). Every failure is one line on stderr with
// a typed code (never ERR_INTERNAL, never a stack trace), status 1 or 2; nothing outside
// the store changes; a failed layer is not listed and can be removed. And `import` of an
// image whose layer would leave a link leading out of it (issue 17).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOSTILE_CODES, hostileTars, readTreeModel } from '@graphdriver/core/testing';
import { chainIds } from '@graphdriver/image';
import { buildTestLayout } from '@graphdriver/image/testing';
import { BIN, runCli, runJson } from './test-support/run-cli.js';

let work: string;
let root: string;
let sentinel: string;
let sentinelTree: Map<string, string>;
const g = () => ['--root', root, '--driver', 'vfs'];

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
  work = await mkdtemp(join(tmpdir(), 'gd-cli-hostile-'));
  root = join(work, 'root');
  sentinel = join(work, 'sentinel');
  await mkdir(join(sentinel, 'etc'), { recursive: true });
  await writeFile(join(sentinel, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(sentinel, 'secret'), 'secret\n');
  await symlink('secret', join(sentinel, 'link'));
  sentinelTree = await readTreeModel(sentinel);
});
afterAll(async () => {
  // GNU rm: a hostile layer may hold paths deeper than fs.rm can address
  const { execFileSync } = await import('node:child_process');
  if (work) execFileSync('rm', ['-rf', '--one-file-system', work]);
});

/** One line, "graphdriver: CODE: ...", no stack, a typed code (ERR_*, never a bare errno name nor ERR_INTERNAL). */
function expectTypedFailure(r: { status: number; stderr: string; stdout: string }, what: string): string {
  expect([1, 2], `${what}: status ${r.status}; stderr ${r.stderr}`).toContain(r.status);
  const lines = r.stderr.trim().split('\n');
  expect(lines, `${what}: ${r.stderr}`).toHaveLength(1);
  const m = /^graphdriver: (ERR_[A-Z0-9_]+): /.exec(lines[0]);
  expect(m, `${what}: ${r.stderr}`).not.toBeNull();
  expect(m![1], `${what}: ${r.stderr}`).not.toBe('ERR_INTERNAL');
  return m![1];
}

async function collect(chunks: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

describe('graphdriver apply with hostile tarballs', () => {
  // one or two of each kind (every driver takes the whole corpus through applyDiff in its
  // robustness test; here it is the CLI's reading, decompression and error reporting)
  const picked = [
    'size-8GiB-no-data',
    'size-not-octal',
    'uid-2^40',
    'truncated-at-50pct',
    'truncated-mid-header',
    'bad-checksum',
    'random-garbage',
    'gzip-not-tar',
    'pax-bomb-declared-1GiB',
    'gnu-longname-512MiB',
    'pax-path-traversal',
    'xattr-flood',
    'collide-below-file',
    'hardlink-loop',
    'hardlink-to-directory',
    'devices-and-fifos',
    'whiteout-flood',
    // issue 17: links that lead out of the layer (every driver runs all of them)
    'link-out-lone-dotdot',
    'link-out-pax-linkpath',
    'link-out-gnu-longlink',
    'link-out-whiteout-through',
    'link-out-after-content',
  ];
  const cases = hostileTars().filter((c) => picked.includes(c.name));
  const knownIssues: Record<string, string> = {};
  let n = 0;
  for (const c of cases) {
    const known = knownIssues[c.name];
    (known ? it.fails : it)(`${c.name}: ${c.why}${known ? ` [KNOWN ISSUE: ${known}]` : ''}`, async () => {
      const id = `h${++n}`;
      await runJson([...g(), 'create', id]);
      const tar = await collect(c.chunks());
      // every other case through stdin
      const viaStdin = n % 2 === 0;
      const file = join(work, `${id}.tar`);
      if (!viaStdin) await writeFile(file, tar);
      const r = await runCli([...g(), 'apply', id, viaStdin ? '-' : file], viaStdin ? { input: tar } : {});
      let ok = r.status === 0;
      if (!ok) {
        const code = expectTypedFailure(r, c.name);
        expect(c.codes ?? DEFAULT_HOSTILE_CODES, `${c.name}: ${r.stderr}`).toContain(code);
        if (c.entry !== undefined) expect(r.stderr, 'the refusal names the entry to blame').toContain(JSON.stringify(c.entry));
      }
      if (c.expect === 'refused') expect(ok, `${c.name} was applied`).toBe(false);
      if (c.expect === 'applied') expect(ok, `${c.name}: ${r.stderr}`).toBe(true);
      const now = await readTreeModel(sentinel);
      expect([...now]).toEqual([...sentinelTree]);
      const listed = (await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id);
      expect(listed.includes(id)).toBe(ok);
      // a failed layer is incomplete: the next command's init sweeps it (or rm removes it)
      const removed = await runCli([...g(), 'rm', id]);
      if (ok) expect(removed.status, removed.stderr).toBe(0);
      else if (removed.status !== 0) expect(expectTypedFailure(removed, `rm ${id}`)).toBe('ERR_LAYER_NOT_FOUND');
      ok = false;
    });
  }
});

describe('graphdriver import of an image whose layer leads out (issue 17)', () => {
  it('oci: ERR_UNSAFE_ENTRY naming the entry; the refused layer is not listed, the base below it is', async () => {
    const base = await collect(
      hostileTars()
        .find((c) => c.name === 'links-relative-inside')!
        .chunks(),
    );
    const evil = await collect(
      hostileTars()
        .find((c) => c.name === 'link-out-after-content')!
        .chunks(),
    );
    const layout = await buildTestLayout(join(work, 'evil-layout'), { layerTars: [base, evil], tag: 'evil' });
    const [baseId, evilId] = chainIds(layout.images[0].diffIds).map((c) => c.slice(7));
    const store = join(work, 'import-root');
    const gi = ['--root', store, '--driver', 'vfs'];
    const r = await runCli([...gi, 'import', `oci:${layout.dir}:evil`]);
    expect(expectTypedFailure(r, 'import')).toBe('ERR_UNSAFE_ENTRY');
    expect(r.stderr).toContain('"etc/zz"');
    const listed = (await runJson<Array<{ id: string }>>([...gi, 'ls'])).map((l) => l.id);
    expect(listed).toEqual([baseId]);
    expect(listed).not.toContain(evilId);
    expect(await readdir(join(store, 'vfs', 'dir'))).toEqual([baseId]);
    const now = await readTreeModel(sentinel);
    expect([...now]).toEqual([...sentinelTree]);
  });
});

describe('graphdriver with malformed arguments', () => {
  const cases: Array<[string, string[]]> = [
    ['an empty id', ['create', '']],
    ['an id with a slash', ['create', 'a/b']],
    ['an id of dots', ['create', '..']],
    ['an id over 255 bytes', ['create', 'x'.repeat(300)]],
    ['a parent with a slash', ['create', 'ok1', '--parent', '../x']],
    ['a missing parent', ['create', 'ok2', '--parent', 'nope']],
    ['a size that is not one', ['create', 'ok3', '--rw', '--size', 'lots']],
    ['a negative size', ['create', 'ok4', '--rw', '--size', '-5G']],
    ['an absurd size', ['create', 'ok5', '--rw', '--size', '99999999999999999999T']],
    ['a driver option without "="', ['--opt', 'nonsense', 'ls']],
    ['an unknown driver option', ['--opt', 'vfs.bogus=1', 'ls']],
    ['an unknown option', ['create', 'ok6', '--frobnicate']],
    ['an unknown driver', ['--driver', 'nosuch', 'ls']],
    ['apply to a missing layer', ['apply', 'nope', '/dev/null']],
    ['apply of a missing file', ['apply', 'base', join(tmpdir(), 'gd-no-such-file.tar')]],
    ['apply of a directory', ['apply', 'base', tmpdir()]],
    ['mount of a path', ['mount', '../../etc']],
    ['unmount of a missing layer', ['unmount', 'nope']],
    ['rm of a layer with children', ['rm', 'base']],
    ['changes of a missing layer', ['changes', 'nope']],
    ['diff of a missing layer', ['diff', 'nope', '-o', join(tmpdir(), 'gd-never.tar')]],
  ];
  beforeAll(async () => {
    await runJson([...g(), 'create', 'base']);
    await runJson([...g(), 'create', 'kid', '--parent', 'base']);
  });
  for (const [what, args] of cases) {
    it(`${what}: a typed one-line error`, async () => {
      const before = (await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id).sort();
      const r = args[0] === '--driver' ? await runCli(['--root', root, ...args]) : await runCli([...g(), ...args]);
      expectTypedFailure(r, what);
      const after = (await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id).sort();
      expect(after).toEqual(before);
    });
  }

  it('a store root that is a file is a typed error', async () => {
    const file = join(work, 'a-file');
    await writeFile(file, 'x');
    expectTypedFailure(await runCli(['--root', file, '--driver', 'vfs', 'ls']), 'root is a file');
  });

  it('an id that looks like an option is taken as an id after "--", never as an option', async () => {
    const r = await runCli([...g(), 'create', '--', '-rf']);
    if (r.status === 0) {
      expect((await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id)).toContain('-rf');
      expect((await runCli([...g(), 'rm', '--', '-rf'])).status).toBe(0);
    } else expectTypedFailure(r, '-rf');
    const now = await readTreeModel(sentinel);
    expect([...now]).toEqual([...sentinelTree]);
  });

  afterAll(async () => {
    await rm(join(tmpdir(), 'gd-never.tar'), { force: true });
  });
});
