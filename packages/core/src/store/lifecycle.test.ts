// The library side of issue 15: AbortSignal on applyDiff and diff, diff streams that let go
// of their layer the moment they end or are destroyed, remove({ force }), recorded sizes,
// and check/repair of transient references a dead process left. Real files throughout: a
// directory-per-layer backend on a temporary directory, tars made by GNU tar.
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Driver } from '../driver.js';
import { ErrorCode, isAbortError } from '../errors.js';
import type { LayerBackend } from './backend.js';
import { createLayerDriver } from './layer-driver.js';

let work: string;
let home: string;
let driver: Driver;

/** Layers as directories under home/dirs; what `exists` and `check` look at are real. */
function dirBackend(): LayerBackend {
  const dir = (id: string) => join(home, 'dirs', id);
  return {
    name: 'dirs',
    storageOptions: [],
    create: async (id, parent) => {
      await mkdir(join(home, 'dirs'), { recursive: true });
      if (parent) execFileSync('cp', ['-a', dir(parent), dir(id)]);
      else await mkdir(dir(id));
    },
    remove: async (id) => rm(dir(id), { recursive: true, force: true }),
    mount: async (id) => dir(id),
    unmount: async () => {},
    status: async () => [],
    metadata: async (id) => ({ Path: dir(id) }),
    recover: async () => {},
    exists: async (id) =>
      readFile(join(dir(id), '.'))
        .then(() => true)
        .catch((err: NodeJS.ErrnoException) => err.code === 'EISDIR'),
    cleanup: async () => {},
  };
}

/** A tar of `files` (name -> bytes) made by GNU tar. */
async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const src = await mkdtemp(join(work, 'src-'));
  for (const [name, body] of Object.entries(files)) await writeFile(join(src, name), body);
  return execFileSync('tar', ['--numeric-owner', '-cf', '-', '-C', src, '.'], { maxBuffer: 1 << 30 });
}

/** A byte source that hands out `head` and then waits until it is destroyed. */
function stalling(head: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(head);
      }
    },
  });
}

const recordOf = (id: string) => driver.record?.(id);

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'gd-lifecycle-'));
  home = join(work, 'home');
  driver = await createLayerDriver(home, dirBackend());
});
afterEach(async () => {
  await driver.cleanup().catch(() => {});
  await rm(work, { recursive: true, force: true });
});

describe('applyDiff with an AbortSignal', () => {
  it('an aborted signal is refused before the layer is touched', async () => {
    await driver.create('l', null);
    await driver.applyDiff('l', null, Readable.from([await tarOf({ a: 'a' })]));
    const err = await driver
      .applyDiff('l', null, Readable.from([await tarOf({ b: 'b' })]), { signal: AbortSignal.abort('stop') })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', code: ErrorCode.Aborted, cause: 'stop' });
    expect(await driver.exists('l')).toBe(true);
    expect(recordOf('l')).toMatchObject({ state: 'complete', mounts: 0, size: 1 });
  });

  it('aborted while waiting for more of the tar: AbortError at once, the layer never listed, nothing held', async () => {
    await driver.create('l', null);
    const tar = await tarOf({ big: Buffer.alloc(1 << 20, 1), small: 'x' });
    const source = stalling(tar.subarray(0, 600 << 10)); // part of the first file, then nothing
    const ac = new AbortController();
    const applying = driver.applyDiff('l', null, source, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    const err = await applying.catch((e: unknown) => e);
    expect(String(err)).toMatch(/AbortError|aborted/);
    expect(err).toSatisfy(isAbortError);
    expect(source.destroyed).toBe(true);
    expect(await driver.list()).toEqual([]);
    expect(await driver.exists('l')).toBe(false);
    expect(recordOf('l')).toMatchObject({ state: 'applying', mounts: 0 });
    expect(recordOf('l')?.leases).toBeUndefined();
    await driver.remove('l');
    expect(recordOf('l')).toBeUndefined();
  });
});

describe('applyDiff from an fs.ReadStream (read directly, synchronously)', () => {
  it('a signal aborted by a timer mid-way is seen between chunks: AbortError, the layer never listed', async () => {
    await driver.create('l', null);
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 64; i++) files[`f${i}`] = Buffer.alloc(1 << 20, i);
    const tarPath = join(work, 'big.tar');
    await writeFile(tarPath, await tarOf(files));
    const ac = new AbortController();
    let scheduled = false;
    // scheduled once the first entry is in: it can only fire if the apply lets the event loop turn
    const onProgress = () => {
      if (!scheduled) setTimeout(() => ac.abort(), 0);
      scheduled = true;
    };
    const err = await driver.applyDiff('l', null, createReadStream(tarPath), { signal: ac.signal, onProgress }).catch((e: unknown) => e);
    expect(scheduled).toBe(true);
    expect(err).toSatisfy(isAbortError);
    expect(await driver.list()).toEqual([]);
    expect(await driver.exists('l')).toBe(false);
  });
});

describe('diff streams', () => {
  beforeEach(async () => {
    await driver.create('base', null);
    await driver.applyDiff('base', null, Readable.from([await tarOf({ big: Buffer.alloc(8 << 20, 7) })]));
  });

  it('destroy() after the first chunk releases the layer at once: remove works right away', async () => {
    const tar = await driver.diff('base', null);
    await new Promise((r) => tar.once('readable', r));
    expect(recordOf('base')?.leases).toBeDefined(); // the evidence a dying process would leave
    await expect(driver.remove('base')).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
    tar.destroy();
    await driver.remove('base');
    expect(await driver.list()).toEqual([]);
  });

  it('an aborted signal destroys the stream with an AbortError and releases the layer', async () => {
    const ac = new AbortController();
    const tar = await driver.diff('base', null, { signal: ac.signal });
    const failed = new Promise<unknown>((r) => tar.once('error', r));
    await new Promise((r) => tar.once('readable', r));
    ac.abort();
    expect(await failed).toMatchObject({ name: 'AbortError', code: ErrorCode.Aborted });
    expect(recordOf('base')?.mounts).toBe(0);
    await driver.remove('base');
  });

  it('a signal aborted before the call takes nothing', async () => {
    await expect(driver.diff('base', null, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(recordOf('base')?.leases).toBeUndefined();
  });

  it('read to the end, the layer is released before the end is seen, and its count never moved', async () => {
    const tar = await driver.diff('base', null);
    let bytes = 0;
    for await (const c of tar) bytes += (c as Buffer).length;
    expect(bytes).toBeGreaterThan(8 << 20);
    expect(recordOf('base')).toMatchObject({ mounts: 0 });
    expect(recordOf('base')?.leases).toBeUndefined();
  });
});

describe('remove({ force })', () => {
  it('refuses a layer with counted references unless forced, then releases them with it', async () => {
    await driver.create('m', null);
    await driver.get('m');
    await driver.get('m');
    await expect(driver.remove('m')).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
    await driver.remove('m', { force: true });
    expect(recordOf('m')).toBeUndefined();
    expect(await driver.exists('m')).toBe(false);
  });

  it('does not take a layer that has children, forced or not', async () => {
    await driver.create('p', null);
    await driver.create('c', 'p');
    await expect(driver.remove('p', { force: true })).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
  });
});

describe('recorded sizes', () => {
  it('0 when made, the applied size when applied, measured when the last reference is put; never re-walked', async () => {
    await driver.create('base', null);
    expect(recordOf('base')?.size).toBe(0);
    await driver.applyDiff('base', null, Readable.from([await tarOf({ a: Buffer.alloc(1000), b: Buffer.alloc(234) })]));
    expect(recordOf('base')?.size).toBe(1234);
    await driver.createReadWrite('rw', 'base');
    expect(recordOf('rw')?.size).toBe(0);
    const dir = await driver.get('rw');
    const dir2 = await driver.get('rw');
    await writeFile(join(dir, 'new'), Buffer.alloc(5000));
    await driver.put('rw');
    expect(recordOf('rw')?.size).toBe(0); // a reference is still out: not measured yet
    await driver.put('rw');
    expect(recordOf('rw')?.size).toBe(5000);
    // behind the store's back: the record keeps what was measured
    await writeFile(join(dir2, 'more'), Buffer.alloc(7000));
    expect(recordOf('rw')?.size).toBe(5000);
    expect(await driver.diffSize('rw', 'base')).toBe(12000);
  });
});

describe('check and repair of references', () => {
  it('a transient reference written by another (dead) owner is stale: reported, then dropped by repair', async () => {
    await driver.create('l', null);
    await driver.close?.();
    const rec = JSON.parse(await readFile(join(home, 'layers', 'l.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(home, 'layers', 'l.json'), JSON.stringify({ ...rec, leases: { '4194999-dead': 2 }, mounts: -1 }));
    driver = await createLayerDriver(home, dirBackend());
    // a stale lease never keeps a layer busy; a bad count is named
    const problems = await driver.check!();
    expect(problems.map((p) => [p.kind, p.id])).toEqual([
      ['bad-references', 'l'],
      ['stale-references', 'l'],
    ]);
    expect(problems[1].message).toMatch(/process 4194999/);
    const repaired = await driver.repair!();
    expect(repaired.every((p) => p.repaired)).toBe(true);
    expect(recordOf('l')).toMatchObject({ mounts: 0 });
    expect(recordOf('l')?.leases).toBeUndefined();
    expect(await driver.check!()).toEqual([]);
  });

  it('missing data and a missing parent: the layers and their children are dropped; strays removed', async () => {
    for (const [id, parent] of [
      ['a', null],
      ['a1', 'a'],
      ['a2', 'a1'],
      ['b', null],
      ['b1', 'b'],
      ['ok', null],
    ] as const) {
      await driver.create(id, parent);
    }
    await driver.close?.();
    await rm(join(home, 'dirs', 'a'), { recursive: true });
    await rm(join(home, 'layers', 'b.json'));
    await writeFile(join(home, 'layers', 'junk'), 'x');
    driver = await createLayerDriver(home, dirBackend());
    const problems = await driver.check!();
    expect(problems.map((p) => [p.kind, p.id ?? p.path])).toEqual([
      ['missing-data', 'a'],
      ['missing-parent', 'b1'],
      ['stray', join(home, 'layers', 'junk')],
    ]);
    expect(problems.some((p) => p.repaired)).toBe(false); // check alone changes nothing
    expect(await driver.list()).toEqual(['a', 'a1', 'a2', 'b1', 'ok']);
    const repaired = await driver.repair!();
    expect(repaired.every((p) => p.repaired)).toBe(true);
    expect(await driver.list()).toEqual(['ok']);
    expect(await driver.check!()).toEqual([]);
  });
});
