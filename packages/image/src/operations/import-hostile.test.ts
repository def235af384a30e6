// Issue 17's rule through every image transport: an image whose second layer would leave a
// link leading out of the layer (core's hostile corpus, `link-out-*`) is refused by the import
// with ERR_UNSAFE_ENTRY naming the entry, whichever way it comes in (oci:, oci-archive:,
// docker-archive:, docker://), and the refused layer is neither listed nor left in the store;
// the benign base layer below it stays, complete. A benign image of relative links that stay
// inside imports through the same path.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '@graphdriver/core';
import { hostileTars, linksLeadingOut } from '@graphdriver/core/testing';
import { chainIds } from '../model/digest.js';
import { buildTestLayout, type TestLayout } from '../test-support/images.js';
import { startRegistry, type RunningRegistry } from '../test-support/registry.js';
import { closeDriver, openVfs } from '../test-support/store.js';
import { skipWithout, skopeo } from '../test-support/tools.js';
import { importFrom } from './transfer.js';

const skip = skipWithout('the hostile-layer import suite', ['docker-registry', 'openssl', 'htpasswd', 'skopeo']);

async function tarOf(name: string): Promise<Buffer> {
  const c = hostileTars().find((t) => t.name === name);
  if (!c) throw new Error(`no corpus case ${name}`);
  const parts: Buffer[] = [];
  for await (const b of c.chunks()) parts.push(b);
  return Buffer.concat(parts);
}

let work: string;
let hostile: TestLayout;
let benign: TestLayout;
let registry: RunningRegistry | undefined;
const stores: Driver[] = [];

async function store(name: string): Promise<Driver> {
  const d = await openVfs(join(work, name));
  stores.push(d);
  return d;
}

beforeAll(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'gd-import-hostile-'));
  const base = await tarOf('links-relative-inside');
  // the base applies; the layer above it holds a valid tree and then "etc/zz -> ../../victim"
  hostile = await buildTestLayout(join(work, 'hostile'), { layerTars: [base, await tarOf('link-out-after-content')], tag: 'evil' });
  benign = await buildTestLayout(join(work, 'benign'), { layerTars: [base], tag: 'good' });
  registry = await startRegistry();
  await skopeo.copy(`oci:${hostile.dir}:evil`, `oci-archive:${join(work, 'hostile-oci.tar')}:evil`);
  await skopeo.copy(`oci:${hostile.dir}:evil`, `docker-archive:${join(work, 'hostile-docker.tar')}:example.com/evil:1`);
  await skopeo.copy(`oci:${hostile.dir}:evil`, `docker://${registry.host}/evil/app:1`, ['--dest-tls-verify=false']);
}, 600_000);
afterAll(async () => {
  for (const d of stores) await closeDriver(d).catch(() => {});
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(skip)('importing an image with a layer that leads out (issue 17)', () => {
  const transports: Array<[string, () => string, () => object]> = [
    ['oci:', () => `oci:${hostile.dir}:evil`, () => ({})],
    ['oci-archive:', () => `oci-archive:${join(work, 'hostile-oci.tar')}:evil`, () => ({})],
    ['docker-archive:', () => `docker-archive:${join(work, 'hostile-docker.tar')}`, () => ({})],
    ['docker://', () => `docker://${registry!.host}/evil/app:1`, () => ({ tlsVerify: false })],
  ];
  for (const [transport, ref, opts] of transports) {
    it(`${transport}: ERR_UNSAFE_ENTRY naming the entry; the layer is not listed and not kept`, async () => {
      const d = await store(`s-${transport.replace(/\W/g, '')}`);
      const [baseId, evilId] = chainIds(hostile.images[0].diffIds).map((c) => c.slice(7));
      const err = await importFrom(d, ref(), opts()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'the import succeeded').toMatchObject({ code: 'ERR_UNSAFE_ENTRY' });
      expect((err as Error).message).toContain('"etc/zz"');
      expect((err as Error).message.split('\n')).toHaveLength(1);
      expect(await d.list()).toEqual([baseId]);
      expect(await d.exists(evilId)).toBe(false);
      // gone from the store's storage too, not merely unlisted
      expect(await readdir(join(work, `s-${transport.replace(/\W/g, '')}`, 'vfs', 'dir'))).toEqual([baseId]);
      const root = await d.get(baseId);
      try {
        expect(linksLeadingOut(root)).toEqual([]);
      } finally {
        await d.put(baseId);
      }
    });
  }

  it('oci: a benign image of relative links that stay inside imports', async () => {
    const d = await store('benign');
    const r = await importFrom(d, `oci:${benign.dir}:good`);
    expect(await d.list()).toEqual([r.top]);
    const root = await d.get(r.top!);
    try {
      expect(linksLeadingOut(root)).toEqual([]);
      expect((await readdir(join(root, 'usr', 'bin'))).sort()).toContain('up-and-down');
    } finally {
      await d.put(r.top!);
    }
  });
});
