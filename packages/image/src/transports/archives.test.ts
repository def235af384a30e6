// oci-archive: and docker-archive: for real, both ways, against the tools of record: what
// skopeo writes we import to the tree `umoci unpack` makes; what we write skopeo inspects and
// copies, and umoci unpacks to the same tree. Hostile archives give one typed error and leave
// the store as it was. Exports are reproducible.
import { mkdtemp, readFile, rm, truncate, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '@graphdriver/core';
import { packEntries } from '@graphdriver/core';
import { compareTrees, missingPrograms, requireBackingSystem, type TreeSnapshot } from '@graphdriver/core/testing';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { chainIds } from '../model/digest.js';
import { exportTo, importFrom } from '../operations/transfer.js';
import { buildImageFixture, type ImageFixture } from '../test-support/fixture.js';
import { closeDriver, layerTree, openVfs, umociTree as umociTreeIn } from '../test-support/store.js';
import { skopeo } from '../test-support/tools.js';
import { UNPACKED } from '../test-support/tree.js';

const missing = missingPrograms(['umoci', 'skopeo', 'busybox']);
if (process.getuid?.() !== 0) missing.unshift('root (owners and device nodes in the fixture)');
requireBackingSystem('the archive interop suite', missing);

let work: string;
let fx: ImageFixture;
let reference: TreeSnapshot;
let chain: string[];
const stores: Driver[] = [];

async function store(name: string): Promise<Driver> {
  const d = await openVfs(join(work, name));
  stores.push(d);
  return d;
}

const umociTree = (image: string) => umociTreeIn(work, image);

beforeAll(async () => {
  if (missing.length) return;
  work = await mkdtemp(join(tmpdir(), 'gd-archives-'));
  fx = await buildImageFixture(join(work, 'fixture'));
  reference = await umociTree(`${fx.layout}:v4`);
  chain = chainIds((await skopeo.inspectConfig(`oci:${fx.layout}:v4`)).rootfs.diff_ids).map((d) => d.slice(7));
});
afterAll(async () => {
  for (const d of stores) await closeDriver(d).catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)('archives written by skopeo, imported by us', () => {
  it("docker-archive (docker save's format): the chain and the tree equal umoci's", async () => {
    const file = join(work, 'skopeo-docker.tar');
    await skopeo.copy(`oci:${fx.layout}:v4`, `docker-archive:${file}:example.com/app:v4`);
    const d = await store('from-docker-archive');
    const r = await importFrom(d, `docker-archive:${file}`);
    expect(r.layers.map((l) => l.id)).toEqual(chain);
    expect(r.layers.every((l) => !l.skipped && l.compression === 'none')).toBe(true);
    expect(compareTrees(reference, await layerTree(d, r.top!), UNPACKED)).toEqual([]);
    // by its tag; and a tag it does not hold
    const again = await importFrom(d, `docker-archive:${file}:example.com/app:v4`);
    expect(again.layers.every((l) => l.skipped)).toBe(true);
    await expect(importFrom(d, `docker-archive:${file}:example.com/app:nope`)).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
  });

  it("oci-archive: the chain and the tree equal umoci's, read in place", async () => {
    const file = join(work, 'skopeo-oci.tar');
    await skopeo.copy(`oci:${fx.layout}:v4`, `oci-archive:${file}:v4`);
    const d = await store('from-oci-archive');
    const r = await importFrom(d, `oci-archive:${file}:v4`);
    expect(r.layers.map((l) => l.id)).toEqual(chain);
    expect(r.layers.every((l) => l.compression === 'gzip')).toBe(true);
    expect(compareTrees(reference, await layerTree(d, r.top!), UNPACKED)).toEqual([]);
  });
});

describe.skipIf(missing.length > 0)('archives written by us, read by skopeo and umoci', () => {
  let d: Driver;
  beforeAll(async () => {
    if (missing.length) return;
    d = await store('source');
    await importFrom(d, `oci:${fx.layout}:v4`);
  });

  it('docker-archive: skopeo inspects and copies it; umoci unpacks the copy to the same tree; we read it back', async () => {
    const file = join(work, 'ours-docker.tar');
    const e = await exportTo(d, chain.at(-1)!, `docker-archive:${file}:example.com/ours:1`);
    expect(e.layers.map((l) => l.diffId)).toEqual(e.layers.map((l) => l.digest)); // uncompressed, as docker save
    const info = await skopeo.inspect(`docker-archive:${file}`);
    expect(info.Layers).toEqual(e.layers.map((l) => l.digest));
    const copy = join(work, 'ours-docker-copy');
    await skopeo.copy(`docker-archive:${file}`, `oci:${copy}:c`);
    expect(compareTrees(reference, await umociTree(`${copy}:c`), UNPACKED)).toEqual([]);
    const back = await store('back-from-docker-archive');
    const r = await importFrom(back, `docker-archive:${file}:example.com/ours:1`);
    // our diffs are our own tars (not umoci's bytes): the chain is that of the exported diff IDs
    expect(r.layers.map((l) => l.id)).toEqual(chainIds(e.layers.map((l) => l.diffId)).map((c) => c.slice(7)));
    expect(compareTrees(reference, await layerTree(back, r.top!), UNPACKED)).toEqual([]);
  });

  it('oci-archive: skopeo inspects and copies it; umoci unpacks the copy to the same tree', async () => {
    const file = join(work, 'ours-oci.tar');
    const e = await exportTo(d, chain.at(-1)!, `oci-archive:${file}:ours`);
    const info = await skopeo.inspect(`oci-archive:${file}:ours`);
    expect(info.Digest).toBe(e.manifest);
    expect(info.Layers).toEqual(e.layers.map((l) => l.digest));
    const copy = join(work, 'ours-oci-copy');
    await skopeo.copy(`oci-archive:${file}:ours`, `oci:${copy}:c`);
    expect(compareTrees(reference, await umociTree(`${copy}:c`), UNPACKED)).toEqual([]);
  });

  it('zstd layers on request (--compression zstd): skopeo copies them, umoci unpacks the same tree', async () => {
    const out = join(work, 'ours-zstd');
    const e = await exportTo(d, chain.at(-1)!, `oci:${out}:z`, { compression: 'zstd' });
    expect(e.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd')).toBe(true);
    const back = await store('back-from-zstd');
    const r = await importFrom(back, `oci:${out}:z`);
    expect(r.layers.map((l) => l.compression)).toEqual(Array(chain.length).fill('zstd'));
    expect(compareTrees(reference, await layerTree(back, r.top!), UNPACKED)).toEqual([]);
  });

  it('is reproducible: the same chain exported twice gives the same digests (SOURCE_DATE_EPOCH sets the config time)', async () => {
    const a = await exportTo(d, chain.at(-1)!, `oci:${join(work, 'rep-a')}:x`);
    await new Promise((r) => setTimeout(r, 1100)); // a second later: no time of the export may leak in
    const b = await exportTo(d, chain.at(-1)!, `oci:${join(work, 'rep-b')}:x`);
    expect(b.layers.map((l) => l.digest)).toEqual(a.layers.map((l) => l.digest));
    expect(b.manifest).toBe(a.manifest);
    // byte for byte, the whole archive: the same as the docker-archive test's, written earlier
    await exportTo(d, chain.at(-1)!, `docker-archive:${join(work, 'rep.tar')}:example.com/ours:1`);
    expect((await readFile(join(work, 'rep.tar'))).equals(await readFile(join(work, 'ours-docker.tar')))).toBe(true);
    const s = await exportTo(d, chain.at(-1)!, `oci:${join(work, 'rep-s')}:x`, { sourceDateEpoch: 1_700_000_000 });
    const config = JSON.parse(await readFile(join(work, 'rep-s', 'blobs/sha256', s.config.slice(7)), 'utf8')) as { created: string };
    expect(config.created).toBe('2023-11-14T22:13:20.000Z');
  }, 600_000);
});

describe.skipIf(missing.length > 0)('hostile and broken archives: one typed error, nothing written', () => {
  const tarOf = async (file: string, members: Array<[string, string | Buffer]>) => {
    const entries = members.map(([name, body]) => {
      const b = Buffer.from(body);
      return { header: { name, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: b.length, mtime: 0 }, body: b };
    });
    await pipeline(packEntries(entries), createWriteStream(file));
  };

  it.each([
    ['not a tar', async (f: string) => writeFile(f, 'hello, this is not an archive at all'.repeat(30)), 'ERR_IMAGE_INVALID'],
    ['an empty file', async (f: string) => writeFile(f, ''), 'ERR_IMAGE_INVALID'],
    ['no such file', async () => {}, 'ERR_IMAGE_INVALID'],
    ['a tar without manifest.json', async (f: string) => tarOf(f, [['x', 'y']]), 'ERR_IMAGE_INVALID'],
    ['manifest.json that is not JSON', async (f: string) => tarOf(f, [['manifest.json', '[{']]), 'ERR_IMAGE_INVALID'],
    ['manifest.json of the wrong shape', async (f: string) => tarOf(f, [['manifest.json', '{"Config":1}']]), 'ERR_IMAGE_INVALID'],
    [
      'a config path climbing out of the archive',
      async (f: string) =>
        tarOf(f, [['manifest.json', JSON.stringify([{ Config: '../../../../etc/passwd', RepoTags: null, Layers: [] }])]]),
      'ERR_IMAGE_INVALID',
    ],
    [
      'a layer the archive lacks',
      async (f: string) => {
        const config = JSON.stringify({
          os: 'linux',
          architecture: 'amd64',
          rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] },
        });
        await tarOf(f, [
          ['manifest.json', JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['l/layer.tar'] }])],
          ['c.json', config],
        ]);
      },
      'ERR_IMAGE_INVALID',
    ],
    [
      'a layer whose content is not its diff ID',
      async (f: string) => {
        const config = JSON.stringify({
          os: 'linux',
          architecture: 'amd64',
          rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] },
        });
        const layer = Buffer.alloc(1024); // an empty tar: end-of-archive blocks only
        await tarOf(f, [
          ['manifest.json', JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['l/layer.tar'] }])],
          ['c.json', config],
          ['l/layer.tar', layer],
        ]);
      },
      'ERR_DIGEST_MISMATCH',
    ],
  ])('docker-archive: %s', async (_what, make, code) => {
    const file = join(work, `hostile-${Math.random().toString(36).slice(2)}.tar`);
    await make(file);
    const d = await store(`hostile-${Math.random().toString(36).slice(2)}`);
    const err = await importFrom(d, `docker-archive:${file}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code });
    expect((err as Error).message.split('\n')).toHaveLength(1);
    expect(await d.list()).toEqual([]);
  });

  it('an oci-archive cut short', async () => {
    const good = join(work, 'skopeo-oci.tar');
    const cut = join(work, 'cut.tar');
    await copyFile(good, cut);
    await truncate(cut, 20_000);
    const d = await store('hostile-oci');
    await expect(importFrom(d, `oci-archive:${cut}:v4`)).rejects.toMatchObject({ code: 'ERR_IMAGE_INVALID' });
    expect(await d.list()).toEqual([]);
  });
});
