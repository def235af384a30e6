// Reproducible exports, as a user meets them: `graphdriver export ID oci:DIR` (and
// oci-archive:) run twice, a second apart, give the same manifest digest. Entries keep their
// files' times; whiteouts, the gzip headers and the config's `created` take the layer's
// creation time from its record, or SOURCE_DATE_EPOCH when it is set (then the digests change,
// and stay the same from run to run).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar } from '@graphdriver/core';
import { BIN, runCli, runJson } from './test-support/run-cli.js';
import { vfsRecords } from './test-support/store-files.js';

interface Exported {
  manifest: string;
  config: string;
  layers: Array<{ id: string; digest: string; skipped: boolean }>;
}

const EPOCH = 1_700_000_000; // 2023-11-14T22:13:20Z
let work: string;
let root: string;
const g = () => ['--root', root, '--driver', 'vfs'];
const exportTo = (ref: string, env: Record<string, string | undefined> = { SOURCE_DATE_EPOCH: undefined }) =>
  runJson<Exported>([...g(), 'export', 'top', ref], { env });
const blob = (layout: string, digest: string) => readFile(join(layout, 'blobs/sha256', digest.slice(7)));
const secondLater = () => new Promise((r) => setTimeout(r, 1100));

/** The entries of a gzip layer blob: name -> mtime. */
async function entryTimes(gz: Buffer): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const e of readTar(Readable.from([gunzipSync(gz)]))) {
    out.set(e.header.name, e.header.mtime);
    for await (const _ of e.body);
  }
  return out;
}
const whiteoutTimes = async (gz: Buffer) => new Map([...(await entryTimes(gz))].filter(([name]) => /(^|\/)\.wh\./.test(name)));
const gzipTime = (gz: Buffer) => gz.readUInt32LE(4);

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
  work = await mkdtemp(join(tmpdir(), 'gd-repro-'));
  root = join(work, 'root');
  // base: a few files with old times; top: one deleted (a whiteout), one added
  const src = join(work, 'src');
  await mkdir(join(src, 'etc'), { recursive: true });
  await writeFile(join(src, 'etc', 'gone'), 'to be deleted\n');
  await writeFile(join(src, 'etc', 'kept'), 'kept\n');
  execFileSync('touch', ['-d', '2001-02-03 04:05:06Z', join(src, 'etc', 'gone'), join(src, 'etc', 'kept'), join(src, 'etc')]);
  execFileSync('tar', ['-cf', join(work, 'base.tar'), '-C', src, 'etc']);
  expect((await runCli([...g(), 'create', 'base'])).status).toBe(0);
  expect((await runCli([...g(), 'apply', 'base', join(work, 'base.tar')])).status).toBe(0);
  expect((await runCli([...g(), 'create', 'top', '--parent', 'base'])).status).toBe(0);
  const { path } = await runJson<{ path: string }>([...g(), 'mount', 'top']);
  await unlink(join(path, 'etc', 'gone'));
  await writeFile(join(path, 'etc', 'new'), 'new\n');
  await runJson([...g(), 'unmount', 'top']);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('graphdriver export is reproducible', () => {
  it('oci: the same chain exported twice, a second apart, gives the same manifest digest; times come from the layer records', async () => {
    const a = await exportTo(`oci:${join(work, 'a')}:x`);
    await secondLater();
    const b = await exportTo(`oci:${join(work, 'b')}:x`);
    expect(b.manifest).toBe(a.manifest);
    expect(b.layers.map((l) => l.digest)).toEqual(a.layers.map((l) => l.digest));
    expect(a.layers.every((l) => !l.skipped)).toBe(true);

    const records = await vfsRecords(root);
    const created = (id: string) => Math.floor(Date.parse(records.get(id)!.created) / 1000);
    const config = JSON.parse((await blob(join(work, 'a'), a.config)).toString('utf8')) as { created: string };
    expect(config.created).toBe(new Date(created('top') * 1000).toISOString());
    for (const l of a.layers) expect(gzipTime(await blob(join(work, 'a'), l.digest)), l.id).toBe(created(l.id));
    const top = await blob(join(work, 'a'), a.layers[1].digest);
    expect(await whiteoutTimes(top)).toEqual(new Map([['etc/.wh.gone', created('top')]]));
  }, 120_000);

  it('oci-archive: two exports are the same bytes', async () => {
    const a = await exportTo(`oci-archive:${join(work, 'a.tar')}:x`);
    await secondLater();
    const b = await exportTo(`oci-archive:${join(work, 'b.tar')}:x`);
    expect(b.manifest).toBe(a.manifest);
    expect((await readFile(join(work, 'b.tar'))).equals(await readFile(join(work, 'a.tar')))).toBe(true);
  }, 120_000);

  it('SOURCE_DATE_EPOCH sets the whiteout, gzip header and config times: other digests, the same on every run', async () => {
    const plain = await exportTo(`oci:${join(work, 'plain')}:x`);
    const env = { SOURCE_DATE_EPOCH: String(EPOCH) };
    const a = await exportTo(`oci:${join(work, 'sde-a')}:x`, env);
    await secondLater();
    const b = await exportTo(`oci:${join(work, 'sde-b')}:x`, env);
    expect(b.manifest).toBe(a.manifest);
    expect(a.manifest).not.toBe(plain.manifest);
    expect(a.layers.map((l) => l.digest)).not.toEqual(plain.layers.map((l) => l.digest));

    const layout = join(work, 'sde-a');
    const config = JSON.parse((await blob(layout, a.config)).toString('utf8')) as { created: string; history: Array<{ created: string }> };
    expect(config.created).toBe('2023-11-14T22:13:20.000Z');
    expect(config.history.map((h) => h.created)).toEqual(['2023-11-14T22:13:20.000Z', '2023-11-14T22:13:20.000Z']);
    for (const l of a.layers) expect(gzipTime(await blob(layout, l.digest))).toBe(EPOCH);
    expect(await whiteoutTimes(await blob(layout, a.layers[1].digest))).toEqual(new Map([['etc/.wh.gone', EPOCH]]));
    // entry times stay the files' own: the kept file of the base layer is from 2001
    const times = await entryTimes(await blob(layout, a.layers[0].digest));
    expect(times.get('etc/kept')).toBe(Date.parse('2001-02-03T04:05:06Z') / 1000);
  }, 120_000);

  it('a SOURCE_DATE_EPOCH that is not a number of seconds is one clear error', async () => {
    const r = await runCli([...g(), 'export', 'top', `oci:${join(work, 'bad')}:x`], { env: { SOURCE_DATE_EPOCH: 'yesterday' } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/SOURCE_DATE_EPOCH="yesterday" is not a number of seconds/);
    expect(existsSync(join(work, 'bad'))).toBe(false);
  });
});
