// `graphdriver check [--repair]` on real vfs stores damaged on purpose: a layer's data
// deleted, a parent's record removed, stray temporaries, a stale reference left by a
// process killed in the middle of a diff, a reference count edited to nonsense.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StoreProblem } from '@graphdriver/core';
import { BIN, runCli, runJson, spawnCli } from './test-support/run-cli.js';
import { vfsRecords } from './test-support/store-files.js';
import { waitUntil } from './test-support/wait.js';

let work: string;
let root: string;
const g = () => ['--root', root, '--driver', 'vfs'];
const home = () => join(root, 'vfs');

interface CheckDoc {
  problems: StoreProblem[];
  ok: boolean;
}

/** `check --json` (with --repair when asked): status and the parsed document. */
async function check(repair = false): Promise<{ status: number; doc: CheckDoc; stderr: string }> {
  const r = await runCli(['--json', ...g(), 'check', ...(repair ? ['--repair'] : [])]);
  return { status: r.status, doc: JSON.parse(r.stdout) as CheckDoc, stderr: r.stderr };
}

const kinds = (doc: CheckDoc) => doc.problems.map((p) => [p.kind, p.id ?? p.path, p.repaired ?? null]);
const ids = async () => (await runJson<Array<{ id: string }>>([...g(), 'ls'])).map((l) => l.id);

/** base <- mid <- top, and a lone layer `other`, each with a file. */
async function makeChain(): Promise<void> {
  for (const [id, parent] of [
    ['base', ''],
    ['mid', 'base'],
    ['top', 'mid'],
    ['other', ''],
  ]) {
    expect((await runCli([...g(), 'create', id, '--parent', parent])).status).toBe(0);
    const dir = (await runCli([...g(), '-q', 'mount', id])).stdout.trim();
    await writeFile(join(dir, `${id}.txt`), id.repeat(100));
    expect((await runCli([...g(), 'unmount', id])).status).toBe(0);
  }
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'gd-check-'));
  root = join(work, 'root');
  await makeChain();
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('graphdriver check', () => {
  it('a sound store: status 0, "no problems found"', async () => {
    const r = await runCli([...g(), 'check']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('no problems found\n');
  });

  it("a layer's data deleted: reported (status 1, one line per problem); --repair drops it and its children", async () => {
    await rm(join(home(), 'dir', 'mid'), { recursive: true });
    const plain = await runCli([...g(), 'check']);
    expect(plain.status).toBe(1);
    expect(plain.stdout).toMatch(
      /^missing-data: layer mid is recorded but its data is gone \(repair would drop its record and its children\)\n$/,
    );
    expect(plain.stderr).toMatch(/^graphdriver: ERR_STORE_DAMAGED: 1 problem found/);
    expect(await ids()).toEqual(['base', 'mid', 'other', 'top']); // check changed nothing

    const repaired = await check(true);
    expect(repaired.status).toBe(0);
    expect(kinds(repaired.doc)).toEqual([['missing-data', 'mid', true]]);
    expect(await ids()).toEqual(['base', 'other']);
    expect(existsSync(join(home(), 'dir', 'top'))).toBe(false);
    expect((await check()).status).toBe(0);
  });

  it("a parent's record removed: its data is swept at open, its child reported; --repair drops the child", async () => {
    await rm(join(home(), 'layers', 'base.json'));
    const found = await check();
    expect(found.status).toBe(1);
    expect(kinds(found.doc)).toEqual([
      ['stray', join(home(), 'dir', 'base'), true], // data no record knows: recovery removed it at open
      ['missing-parent', 'mid', null],
    ]);
    const repaired = await check(true);
    expect(kinds(repaired.doc)).toEqual([['missing-parent', 'mid', true]]);
    expect(await ids()).toEqual(['other']);
    expect((await check()).status).toBe(0);
  });

  it('stray temporaries: a half-made layer is swept at open and said so; a foreign file in the index is removed by --repair', async () => {
    await mkdir(join(home(), 'tmp', 'new-0123456789abcdef', 'etc'), { recursive: true });
    await writeFile(join(home(), 'layers', 'notes.txt'), 'not a record');
    const found = await check();
    expect(found.status).toBe(1);
    expect(kinds(found.doc)).toEqual([
      ['stray', join(home(), 'tmp', 'new-0123456789abcdef'), true],
      ['stray', join(home(), 'layers', 'notes.txt'), null],
    ]);
    expect(existsSync(join(home(), 'tmp', 'new-0123456789abcdef'))).toBe(false);
    expect(existsSync(join(home(), 'layers', 'notes.txt'))).toBe(true);
    const repaired = await check(true);
    expect(repaired.status).toBe(0);
    expect(kinds(repaired.doc)).toEqual([['stray', join(home(), 'layers', 'notes.txt'), true]]);
    expect(existsSync(join(home(), 'layers', 'notes.txt'))).toBe(false);
    expect(await ids()).toEqual(['base', 'mid', 'other', 'top']);
  });

  it('a diff killed with SIGKILL leaves a stale reference: reported, released by --repair; it never made the layer busy', async () => {
    const run = spawnCli([...g(), 'diff', 'top', '-o', join(work, 'out.tar')]);
    await waitUntil('the diff taking its reference', async () => (await vfsRecords(root)).get('top')?.leases !== undefined);
    run.child.kill('SIGKILL');
    await run.result;
    expect((await vfsRecords(root)).get('top')?.leases).toBeDefined();
    const found = await check();
    expect(found.status).toBe(1);
    // top's lease, and its parent's when the kill came while the change list read both
    expect(kinds(found.doc)).toContainEqual(['stale-references', 'top', null]);
    expect(found.doc.problems.every((p) => p.kind === 'stale-references' && /process \d+, which ended/.test(p.message))).toBe(true);
    expect((await runJson<Array<{ id: string; mounts: number }>>([...g(), 'ls'])).every((l) => l.mounts === 0)).toBe(true);
    expect((await check(true)).status).toBe(0);
    expect((await vfsRecords(root)).get('top')?.leases).toBeUndefined();
    expect((await check()).status).toBe(0);
    expect((await runCli([...g(), 'rm', 'top'])).status).toBe(0);
  });

  it('a reference count edited to nonsense: bad-references, set to 0 by --repair', async () => {
    const path = join(home(), 'layers', 'other.json');
    await writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(path, 'utf8')), mounts: -3 }));
    expect(kinds((await check()).doc)).toEqual([['bad-references', 'other', null]]);
    expect(kinds((await check(true)).doc)).toEqual([['bad-references', 'other', true]]);
    expect((await vfsRecords(root)).get('other')?.mounts).toBe(0);
  });
});
