// pull and push against real docker-registry servers: what skopeo pushes we pull to the tree
// `umoci unpack` makes; what we push skopeo reads back; a re-push of a pulled image sends no
// layer bytes (the registry mounts the blobs it holds); a killed pull resumes from its partial
// file with a Range request; a tampered blob fails with nothing half-written.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '@graphdriver/core';
import { chainIds } from '../model/digest.js';
import { buildImageFixture, type ImageFixture } from '../test-support/fixture.js';
import { startFaultProxy, type FaultProxy } from '../test-support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../test-support/registry.js';
import { tamperBlob } from '../test-support/storage.js';
import { closeDriver, layerTree, openVfs, umociTree as umociTreeIn } from '../test-support/store.js';
import { skipWithout, skopeo } from '../test-support/tools.js';
import { compareTrees, type TreeSnapshot } from '@graphdriver/core/testing';
import { UNPACKED } from '../test-support/tree.js';
import { importFrom, pull, push } from './transfer.js';
import { readLayerRecord } from './layer-meta.js';

const skip =
  skipWithout('the pull/push suite', ['docker-registry', 'openssl', 'htpasswd', 'skopeo', 'umoci', 'busybox']) || process.getuid?.() !== 0;

let work: string;
let fx: ImageFixture;
let reference: TreeSnapshot;
let chain: string[];
let secure: RunningRegistry;
let plain: RunningRegistry;
let proxy: FaultProxy;
const stores: Driver[] = [];

async function store(name: string): Promise<{ d: Driver; stateDir: string }> {
  const root = join(work, name);
  const d = await openVfs(root);
  stores.push(d);
  return { d, stateDir: join(root, 'image') };
}

const umociTree = (image: string) => umociTreeIn(work, image);

const skopeoPlain = (...args: string[]) => execFileSync('skopeo', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const tls = () => ({ creds: `${secure.creds!.username}:${secure.creds!.password}`, certDir: secure.caDir! });

beforeAll(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'gd-pull-push-'));
  fx = await buildImageFixture(join(work, 'fixture'));
  reference = await umociTree(`${fx.layout}:v4`);
  chain = chainIds((await skopeo.inspectConfig(`oci:${fx.layout}:v4`)).rootfs.diff_ids).map((d) => d.slice(7));
  secure = await startRegistry({ tls: true, auth: 'basic' });
  plain = await startRegistry();
  proxy = await startFaultProxy(plain.host);
  await skopeo.copy(`oci:${fx.layout}:v4`, `docker://${secure.host}/src/app:v4`, [
    `--dest-cert-dir=${secure.caDir}`,
    `--dest-creds=${tls().creds}`,
  ]);
  await skopeo.copy(`oci:${fx.layout}:v4`, `docker://${plain.host}/src/app:v4`, ['--dest-tls-verify=false']);
}, 600_000);
afterAll(async () => {
  for (const d of stores) await closeDriver(d).catch(() => {});
  await proxy?.stop();
  await secure?.stop();
  await plain?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(skip)('pull and push with docker-registry', () => {
  it("pulls what skopeo pushed (TLS, basic auth) to the chain and tree of umoci's unpack, and records each layer's blob", async () => {
    const { d, stateDir } = await store('pulled');
    const r = await pull(d, `${secure.host}/src/app:v4`, { ...tls(), stateDir });
    expect(r.layers.map((l) => l.id)).toEqual(chain);
    expect(compareTrees(reference, await layerTree(d, r.top!), UNPACKED)).toEqual([]);
    const rec = await readLayerRecord(stateDir, chain[0]);
    expect(rec).toMatchObject({
      digest: r.layers[0].digest,
      mediaType: r.layers[0].mediaType,
      size: r.layers[0].size,
      origin: { repository: 'src/app' },
    });
    // the cache held the blobs only on the way in, and the gzip layers were inflated behind
    // files that were gone from the start
    expect((await readdir(join(stateDir, 'blobs', 'sha256'))).filter((n) => !n.startsWith('.'))).toEqual([]);
    expect(await readdir(join(stateDir, 'tmp'))).toEqual([]);
  });

  it('refuses wrong credentials, an untrusted certificate and an unknown tag, one typed error each, writing nothing', async () => {
    const { d } = await store('refused');
    await expect(pull(d, `${secure.host}/src/app:v4`, { ...tls(), creds: 'tester:wrong' })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_AUTH',
    });
    await expect(pull(d, `${secure.host}/src/app:v4`, { creds: tls().creds })).rejects.toMatchObject({ code: 'ERR_REGISTRY_TLS' });
    await expect(pull(d, `${secure.host}/src/app:nope`, tls())).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
    expect(await d.list()).toEqual([]);
  });

  it('re-pushing a pulled image sends no layer bytes: the registry mounts the blobs it holds', async () => {
    const { d, stateDir } = await store('repush');
    const r = await pull(d, `${proxy.host}/src/app:v4`, { tlsVerify: false, stateDir });
    proxy.clearLog();
    const p = await push(d, r.top!, `${proxy.host}/copy/app:1`, { tlsVerify: false, stateDir });
    expect(p.layers.map((l) => l.skipped)).toEqual(Array(chain.length).fill(true));
    expect(p.layers.map((l) => l.digest)).toEqual(r.layers.map((l) => l.digest));
    const sent = proxy.log.filter((e) => /\/blobs\/uploads\//.test(e.path)).reduce((n, e) => n + e.requestBytes, 0);
    // the config (a few hundred bytes) is all that may be uploaded: no upload carries a layer
    expect(sent).toBeLessThan(16_384);
    const uploads = proxy.log.filter((e) => /\/blobs\/uploads\//.test(e.path) && e.requestBytes > 0);
    expect(uploads).toHaveLength(1);
    expect(r.layers.map((l) => l.size)).not.toContain(uploads[0].requestBytes);
    expect(proxy.log.some((e) => e.method === 'POST' && /mount=sha256%3A|mount=sha256:/.test(e.path))).toBe(true);
    // skopeo reads it back: the same layer blobs, and umoci unpacks the same tree
    const info = JSON.parse(skopeoPlain('inspect', '--tls-verify=false', `docker://${plain.host}/copy/app:1`)) as {
      Layers: string[];
      Digest: string;
    };
    expect(info.Layers).toEqual(r.layers.map((l) => l.digest));
    expect(info.Digest).toBe(p.manifest);
    const back = join(work, 'repush-back');
    await skopeo.copy(`docker://${plain.host}/copy/app:1`, `oci:${back}:b`, ['--src-tls-verify=false']);
    expect(compareTrees(reference, await umociTree(`${back}:b`), UNPACKED)).toEqual([]);
  });

  it('pushes layers it has no record of (compressed now); skopeo pulls them back to the same tree', async () => {
    const { d } = await store('fresh');
    const r = await importFrom(d, `oci:${fx.layout}:v4`);
    const p = await push(d, r.top!, `${secure.host}/fresh/app:1`, { ...tls(), compression: 'gzip' });
    expect(p.layers.every((l) => !l.skipped && l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(true);
    const back = join(work, 'fresh-back');
    await skopeo.copy(`docker://${secure.host}/fresh/app:1`, `oci:${back}:b`, [
      `--src-cert-dir=${secure.caDir}`,
      `--src-creds=${tls().creds}`,
    ]);
    expect(compareTrees(reference, await umociTree(`${back}:b`), UNPACKED)).toEqual([]);
    // and we pull our own push back
    const { d: d2 } = await store('fresh-pulled');
    const again = await pull(d2, `${secure.host}/fresh/app:1`, tls());
    expect(compareTrees(reference, await layerTree(d2, again.top!), UNPACKED)).toEqual([]);
  });

  it('a killed pull resumes from its partial download with a Range request; no half layer is listed meanwhile', async () => {
    const { d, stateDir } = await store('resume');
    // the 3 MiB layer, paced so that the pull can be stopped in the middle of it
    const probe = await pull((await store('probe')).d, `${proxy.host}/src/app:v4`, { tlsVerify: false });
    const big = probe.layers.reduce((a, b) => (b.size > a.size ? b : a));
    proxy.addRule({
      method: 'GET',
      path: new RegExp(`/blobs/${big.digest}`),
      action: { kind: 'slow', chunkBytes: 64 << 10, intervalMs: 20 },
    });
    const ac = new AbortController();
    let moved = 0;
    const killed = await pull(d, `${proxy.host}/src/app:v4`, {
      tlsVerify: false,
      stateDir,
      jobs: 1,
      signal: ac.signal,
      onProgress: (e) => {
        if (e.type === 'bytes' && (moved += e.bytes) > big.size / 2 + 500_000) ac.abort();
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(killed).toBeDefined();
    proxy.clearRules();
    const partial = join(stateDir, 'blobs', 'sha256', `${big.digest.slice(7)}.partial`);
    const kept = (await stat(partial)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(big.size);
    // only whole layers exist
    for (const id of await d.list()) expect(chain).toContain(id);
    proxy.clearLog();
    const r = await pull(d, `${proxy.host}/src/app:v4`, { tlsVerify: false, stateDir });
    const get = proxy.log.find((e) => e.method === 'GET' && e.path.includes(big.digest) && e.status < 300);
    expect(get?.headers.range).toBe(`bytes=${kept}-`);
    expect(get!.responseBytes).toBe(big.size - kept);
    expect(compareTrees(reference, await layerTree(d, r.top!), UNPACKED)).toEqual([]);
  });

  it("a tampered blob in the registry's storage fails the pull with ERR_DIGEST_MISMATCH; the layers below stay, nothing half-written", async () => {
    await skopeo.copy(`oci:${fx.layout}:v4`, `docker://${plain.host}/tamper/app:v4`, ['--dest-tls-verify=false']);
    const { d: probeD } = await store('tamper-probe');
    const layers = (await pull(probeD, `${plain.host}/tamper/app:v4`, { tlsVerify: false })).layers;
    await tamperBlob(plain.storage, layers[2].digest);
    const { d, stateDir } = await store('tampered');
    const err = await pull(d, `${plain.host}/tamper/app:v4`, { tlsVerify: false, stateDir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    expect((err as Error).message.split('\n')).toHaveLength(1);
    expect((await d.list()).sort()).toEqual(chain.slice(0, 2).sort());
    const cached = await readdir(join(stateDir, 'blobs', 'sha256')).catch(() => []);
    expect(cached.filter((n) => n.startsWith(layers[2].digest.slice(7)))).toEqual([]);
  });
});
