// `graphdriver apply` and `diff` on input that is broken rather than malicious: compressed
// data that is corrupt or cut short, decompression bombs, and files that cannot be read or
// written. Each must fail with one typed line (no crash, no stack), leave the store as the
// store leaves a failed apply (the layer unfinished, then swept; other layers untouched),
// and keep memory bounded however far the input inflates.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHeader } from '@graphdriver/core';
import { requireBackingSystem } from '@graphdriver/core/testing';
import { BIN, runCli, runJson, type CliResult } from './test-support/run-cli.js';

/** The root-only case (another user's view of a closed store root): core's skip-or-fail rule elsewhere. */
const asRoot = requireBackingSystem('bad-input.test.ts: the closed store root case', process.getuid?.() === 0 ? null : 'needs root');

let work: string;
let root: string;
let tar: string;
const g = () => ['--root', root, '--driver', 'vfs'];
const MiB = 1 << 20;

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
  work = await mkdtemp(join(tmpdir(), 'gd-cli-bad-'));
  root = join(work, 'root');
  // a real layer tar (GNU tar) of a small tree, and its gzip and zstd forms
  const src = join(work, 'src');
  await mkdir(join(src, 'etc'), { recursive: true });
  await writeFile(join(src, 'etc', 'conf'), 'x=1\n'.repeat(20_000));
  await writeFile(join(src, 'hello'), 'hello\n');
  tar = join(work, 'layer.tar');
  execFileSync('tar', ['--numeric-owner', '-cf', tar, '-C', src, '.']);
  execFileSync('sh', ['-c', `gzip -c '${tar}' > '${tar}.gz' && zstd -q -c '${tar}' > '${tar}.zst'`]);
  // a complete layer that every failure below must leave alone
  await runJson([...g(), 'create', 'keep']);
  await runJson([...g(), 'apply', 'keep', tar]);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Status 1, nothing on stdout, exactly one line "graphdriver: CODE: ..." and no stack; returns the line. */
function expectOneLine(r: CliResult, code: string): string {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^graphdriver: ${code}: `));
  return lines[0];
}

const layerIds = async () => (await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id).sort();
const recordFile = (id: string) => join(root, 'vfs', 'layers', `${id}.json`);

/** `keep` still has exactly what its tar put there. */
async function expectKeepIntact(): Promise<void> {
  const changes = await runJson<Array<{ path: string; kind: string }>>([...g(), 'changes', 'keep']);
  expect(changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['A /etc', 'A /etc/conf', 'A /hello']);
}

/**
 * The store's answer to a failed apply: right after it, the layer's record says "applying"
 * (never "complete"); the next command's init sweeps it (not listed, no record, no
 * directory), and the id can be used again.
 */
async function expectFailedApplyLeftUnfinished(id: string): Promise<void> {
  const rec = JSON.parse(await readFile(recordFile(id), 'utf8')) as { state: string };
  expect(rec.state).toBe('applying');
  expect(await layerIds()).not.toContain(id);
  expect(existsSync(recordFile(id))).toBe(false);
  expect(existsSync(join(root, 'vfs', 'dir', id))).toBe(false);
  await expectKeepIntact();
  await runJson([...g(), 'create', id]);
  await runJson([...g(), 'apply', id, `${tar}.gz`]);
  await runJson([...g(), 'rm', id]);
}

describe('apply of corrupt compressed data', () => {
  const half = (b: Buffer) => b.subarray(0, b.length >> 1);
  const cases: Array<[string, () => Promise<Buffer>, RegExp]> = [
    [
      'a gzip header, then garbage',
      async () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(4096, 0xee)]),
      /invalid gzip data: /,
    ],
    [
      'a zstd magic, then garbage',
      async () => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(4096, 0xee)]),
      /invalid zstd data: /,
    ],
    ['gzip cut off half-way', async () => half(await readFile(`${tar}.gz`)), /invalid gzip data: unexpected end of file/],
    ['zstd cut off half-way', async () => half(await readFile(`${tar}.zst`)), /invalid zstd data: /],
    // an empty frame with a 1 GiB window, which fzstd would allocate (and move for every block)
    [
      'a zstd frame asking for a 1 GiB window',
      async () => Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00]),
      /needs a 1024 MiB window, over the 128 MiB limit/,
    ],
  ];
  let n = 0;
  for (const [what, data, message] of cases) {
    for (const via of ['file', 'stdin'] as const) {
      it(`${what}, from ${via}: ERR_INVALID_ARCHIVE, and the layer is left unfinished`, async () => {
        const id = `bad${++n}`;
        await runJson([...g(), 'create', id]);
        const bytes = await data();
        const file = join(work, `${id}.bin`);
        await writeFile(file, bytes);
        const r = via === 'file' ? await runCli([...g(), 'apply', id, file]) : await runCli([...g(), 'apply', id, '-'], { input: bytes });
        expect(expectOneLine(r, 'ERR_INVALID_ARCHIVE')).toMatch(message);
        await expectFailedApplyLeftUnfinished(id);
      });
    }
  }
});

describe('apply of a decompression bomb', () => {
  // 320 MiB of tar from a few hundred KiB: one file of zeros, then a header of garbage, so
  // the whole bomb is inflated (and written) before the archive turns out invalid
  const BODY = 320 * MiB;
  function* bombTar(): Generator<Buffer> {
    yield encodeHeader({ name: 'zeros', type: 'file', mode: 0o644, uid: 0, gid: 0, size: BODY, mtime: 0 });
    const zeros = Buffer.alloc(MiB);
    for (let i = 0; i < BODY / MiB; i++) yield zeros;
    yield Buffer.alloc(512, 0xee);
  }

  // peak RSS exactly, as the kernel counts it, written by the CLI process itself at exit
  let hook: string;
  beforeAll(async () => {
    hook = join(work, 'maxrss.cjs');
    await writeFile(
      hook,
      "process.on('exit', () => require('fs').writeFileSync(process.env.GD_MAXRSS_FILE, String(process.resourceUsage().maxRSS)));\n",
    );
  });

  const compressors: Array<[string, (file: string) => Promise<void>]> = [
    ['gzip', (file) => pipeline(Readable.from(bombTar()), createGzip({ level: 9 }), createWriteStream(file))],
    [
      'zstd',
      async (file) => {
        const zstd = spawn('zstd', ['-q', '-19', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
        const exited = new Promise<number | null>((resolve) => zstd.on('close', resolve));
        await Promise.all([pipeline(Readable.from(bombTar()), zstd.stdin), pipeline(zstd.stdout, createWriteStream(file))]);
        expect(await exited).toBe(0);
      },
    ],
  ];
  for (const [kind, compress] of compressors) {
    it(`${kind}: inflates 320 MiB with flat memory, then fails ERR_INVALID_ARCHIVE`, async () => {
      const file = join(work, `bomb.${kind}`);
      await compress(file);
      expect(statSync(file).size).toBeLessThan(MiB);
      const id = `bomb-${kind}`;
      await runJson([...g(), 'create', id]);
      const rssFile = join(work, `maxrss-${kind}`);
      const r = await runCli([...g(), 'apply', id, file], { env: { NODE_OPTIONS: `--require ${hook}`, GD_MAXRSS_FILE: rssFile } });
      const line = expectOneLine(r, 'ERR_INVALID_ARCHIVE');
      // the reader got to the garbage header: all 320 MiB went through
      expect(line).toContain(`offset ${512 + BODY}`);
      const peakMiB = Number(await readFile(rssFile, 'utf8')) / 1024;
      // a Node process runs in ~60 MiB; holding the inflated data would take 320 more
      expect(peakMiB, `peak RSS ${peakMiB.toFixed(0)} MiB`).toBeLessThan(192);
      await expectFailedApplyLeftUnfinished(id);
    }, 120_000);
  }
});

describe('files that cannot be read or written are typed errors, and cost nothing', () => {
  it('apply of a missing file, or of a directory: ERR_INVALID_OPTION with the errno, the layer untouched', async () => {
    const missing = join(work, 'no', 'such.tar');
    const r = await runCli([...g(), 'apply', 'keep', missing]);
    expect(expectOneLine(r, 'ERR_INVALID_OPTION')).toBe(
      `graphdriver: ERR_INVALID_OPTION: cannot read ${missing}: ENOENT: no such file or directory`,
    );
    expect(expectOneLine(await runCli([...g(), 'apply', 'keep', work]), 'ERR_INVALID_OPTION')).toMatch(/it is a directory/);
    expect(await layerIds()).toContain('keep');
    await expectKeepIntact();
  });

  it('apply of a file the user may not read: ERR_INVALID_OPTION (EACCES), the layer still complete', async () => {
    const home = join(work, 'user');
    await mkdir(home, { mode: 0o755 });
    execFileSync('chmod', ['755', work]);
    execFileSync('chown', ['65534:65534', home]);
    const secret = join(work, 'secret.tar');
    await writeFile(secret, await readFile(tar), { mode: 0o600 }); // root's
    // the user's default store is in their home (~/.local/share/graphdriver), not the cwd
    const as = { cwd: home, uid: 65534, gid: 65534, env: { HOME: home, XDG_DATA_HOME: undefined, GRAPHDRIVER_ROOT: undefined } };
    expect((await runCli(['create', 'u1'], as)).status).toBe(0);
    const r = await runCli(['apply', 'u1', secret], as);
    expect(expectOneLine(r, 'ERR_INVALID_OPTION')).toContain(`cannot read ${secret}: EACCES: permission denied`);
    expect((await runJson<Array<{ id: string }>>(['ls'], as)).map((l) => l.id)).toEqual(['u1']);
  });

  it('diff into a missing directory or onto a directory: ERR_INVALID_OPTION, nothing written', async () => {
    const target = join(work, 'missing-dir', 'x.tar');
    const r = await runCli([...g(), 'diff', 'keep', '-o', target]);
    expect(expectOneLine(r, 'ERR_INVALID_OPTION')).toBe(
      `graphdriver: ERR_INVALID_OPTION: cannot write ${target}: ENOENT: no such file or directory`,
    );
    expect(existsSync(join(work, 'missing-dir'))).toBe(false);
    const dir = join(work, 'out-dir');
    await mkdir(dir);
    expect(expectOneLine(await runCli([...g(), 'diff', 'keep', '-o', dir]), 'ERR_INVALID_OPTION')).toMatch(/it is a directory/);
    expect(execFileSync('ls', ['-A', dir], { encoding: 'utf8' })).toBe('');
  });

  it('diff onto a fifo writes into it, and leaves it a fifo (renaming over it would replace it)', async () => {
    const fifo = join(work, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // a reader that gives up: a fifo renamed over would never see a writer
    const reader = spawn('timeout', ['20', 'cat', fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    const read = (async () => Buffer.concat(await reader.stdout.toArray()))();
    const r = await runJson<{ bytes: number }>([...g(), 'diff', 'keep', '-o', fifo]);
    const got = await read;
    expect(got.length).toBe(r.bytes);
    expect(execFileSync('tar', ['-t'], { input: got, encoding: 'utf8' })).toMatch(/^hello$/m);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('diff to a full stdout: ERR_NO_SPACE', async () => {
    const full = await open('/dev/full', 'w');
    try {
      const r = await new Promise<CliResult>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...g(), 'diff', 'keep'], { stdio: ['ignore', full.fd, 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', reject);
        child.on('close', (status) => resolve({ status: status ?? 1, stdout: '', stderr, stdoutBytes: Buffer.alloc(0) }));
      });
      expect(expectOneLine(r, 'ERR_NO_SPACE')).toContain('ENOSPC');
    } finally {
      await full.close();
    }
  });

  it('a store root below a file, and an image layout on a file: ERR_INVALID_OPTION', async () => {
    const file = join(work, 'plain-file');
    await writeFile(file, 'x');
    // the message says what the command was doing: ls only reads, create makes the root
    const r = await runCli(['--root', join(file, 'root'), '--driver', 'vfs', 'ls']);
    expect(expectOneLine(r, 'ERR_INVALID_OPTION')).toContain(`cannot read the store root ${join(file, 'root')}: ENOTDIR`);
    const c = await runCli(['--root', join(file, 'root'), '--driver', 'vfs', 'create', 'x']);
    expect(expectOneLine(c, 'ERR_INVALID_OPTION')).toContain(`cannot create the store root ${join(file, 'root')}: ENOTDIR`);
    const f = await runCli(['--root', file, '--driver', 'vfs', 'status']);
    expect(expectOneLine(f, 'ERR_INVALID_OPTION')).toContain(`cannot read the store root ${file}: it is not a directory`);
    const e = await runCli([...g(), 'export', 'keep', `oci:${file}`]);
    expect(expectOneLine(e, 'ERR_INVALID_OPTION')).toContain(`cannot write the image layout ${file}: ENOTDIR`);
  });

  it.runIf(asRoot)('a store root the user may not look into: ls says it cannot read it, and creates nothing', async () => {
    const closed = join(work, 'closed');
    await mkdir(closed, { mode: 0o700 }); // root's, shut to everyone else
    const as = { uid: 65534, gid: 65534 };
    for (const cmd of [['ls'], ['info', 'x'], ['status'], ['check']]) {
      const r = await runCli(['--root', join(closed, 'store'), '--driver', 'vfs', ...cmd], as);
      expect(expectOneLine(r, 'ERR_INVALID_OPTION'), cmd[0]).toContain(`cannot read the store root ${join(closed, 'store')}: EACCES`);
    }
    const c = await runCli(['--root', join(closed, 'store'), '--driver', 'vfs', 'create', 'x'], as);
    expect(expectOneLine(c, 'ERR_INVALID_OPTION')).toContain(`cannot create the store root ${join(closed, 'store')}: EACCES`);
    expect(await readdir(closed)).toEqual([]);
  });

  // Node's recursive mkdir loops forever here: procfs answers ENOENT for any new name.
  it('a store root the kernel cannot make (below /proc) ends with ERR_INVALID_OPTION', async () => {
    // a command that writes: read-only ones (ls) create no store root, so they never mkdir
    const r = await runCli(['--root', '/proc/graphdriver-nope/root', '--driver', 'vfs', 'create', 'x']);
    expect(expectOneLine(r, 'ERR_INVALID_OPTION')).toContain('cannot create the store root /proc/graphdriver-nope/root: ENOENT');
  });

  it('a diff whose reader closes stdout early (| head) ends with one ERR_STDOUT_CLOSED line', async () => {
    const err = join(work, 'epipe.err');
    const cmd = `"${process.execPath}" "${BIN}" --root "${root}" --driver vfs diff keep 2>"${err}" | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}`;
    const status = execFileSync('bash', ['-c', cmd], { encoding: 'utf8' }).trim();
    const lines = (await readFile(err, 'utf8')).trim().split('\n');
    expect(status).toBe('1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^graphdriver: ERR_STDOUT_CLOSED: the reader of stdout closed it/);
    await expectKeepIntact();
  });
});
