// The client against a registry behind a fault-injecting proxy: connections dropped mid-blob
// (resumed with Range, the bytes counted by the proxy), 503s and 429s (retried, Retry-After
// honoured), retries that run out (ERR_REGISTRY), slow bodies, aborts, redirects to another
// host (no Authorization sent there) and uploads retried from a fresh source.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  buildTestLayout,
  readAll,
  sha256,
  noise,
  pushTestLayout,
  skipWithout,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RunningRegistry,
  type TestLayout,
} from '../test-support/index.js';
import { RegistryClient } from './client.js';

const skip = skipWithout('the registry fault suite');
const BLOB = /\/v2\/test\/app\/blobs\/sha256:/;
const MANIFEST = /\/v2\/test\/app\/manifests\//;

describe.skipIf(skip)('registry client under faults', () => {
  let work: string;
  let regA: RunningRegistry;
  let regB: RunningRegistry;
  let proxyA: FaultProxy;
  let proxyB: FaultProxy;
  let layout: TestLayout;
  let client: RegistryClient;
  const layer = () => layout.images[0].layers[0];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-faults-'));
    [regA, regB] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry()]);
    [proxyA, proxyB] = await Promise.all([startFaultProxy(regA.host), startFaultProxy(regB.host)]);
    layout = await buildTestLayout(join(work, 'layout'), { layers: 1, layerBytes: 2 << 20 });
    await Promise.all([pushTestLayout(layout, regA, 'test/app'), pushTestLayout(layout, regB, 'test/app')]);
    client = new RegistryClient(proxyA.host, {
      tlsVerify: false,
      creds: regA.creds,
      authFile: join(work, 'none.json'),
      retry: { baseDelayMs: 20, attempts: 4 },
    });
    await client.ping();
  });
  afterAll(async () => {
    client?.close();
    await Promise.all([proxyA?.stop(), proxyB?.stop()]);
    await Promise.all([regA?.stop(), regB?.stop()]);
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxyA.clearRules();
    proxyA.clearLog();
    proxyB.clearLog();
  });

  it('a blob download dropped mid-way resumes with Range: about the blob size crosses the wire, not twice', async () => {
    const { digest, size } = layer();
    proxyA.addRule({ method: 'GET', path: BLOB, times: 1, action: { kind: 'drop', afterBytes: 700_000 } });
    const bytes = await readAll(await client.getBlob('test/app', digest, { size, verify: true }));
    expect(sha256(bytes)).toBe(digest);
    const gets = proxyA.log.filter((r) => r.method === 'GET' && BLOB.test(r.path));
    expect(gets.map((r) => [r.headers.range ?? null, r.responseBytes])).toEqual([
      [null, 700_000],
      ['bytes=700000-', size - 700_000],
    ]);
    expect(gets.reduce((n, r) => n + r.responseBytes, 0)).toBe(size);
  });

  it('three drops in a row still finish, each resuming where the last stopped', async () => {
    const { digest, size } = layer();
    proxyA.addRule({ method: 'GET', path: BLOB, times: 3, action: { kind: 'drop', afterBytes: 300_000 } });
    expect(sha256(await readAll(await client.getBlob('test/app', digest, { size, verify: true })))).toBe(digest);
    const gets = proxyA.log.filter((r) => r.method === 'GET' && BLOB.test(r.path));
    expect(gets.map((r) => r.headers.range ?? null)).toEqual([null, 'bytes=300000-', 'bytes=600000-', 'bytes=900000-']);
    expect(gets.reduce((n, r) => n + r.responseBytes, 0)).toBe(size);
  });

  it('drops with no progress exhaust the retries: ERR_REGISTRY naming the byte it stopped at', async () => {
    const { digest, size } = layer();
    proxyA.addRule({ method: 'GET', path: BLOB, times: 1, action: { kind: 'drop', afterBytes: 1000 } });
    proxyA.addRule({ method: 'GET', path: BLOB, action: { kind: 'drop', afterBytes: 0 } });
    await expect(readAll(await client.getBlob('test/app', digest, { size }))).rejects.toMatchObject({
      code: 'ERR_REGISTRY',
      message: expect.stringContaining('dropped at byte 1000'),
    });
  });

  it('503 twice, then the manifest: three requests, success', async () => {
    proxyA.addRule({ method: 'GET', path: MANIFEST, times: 2, action: { kind: 'status', status: 503 } });
    const m = await client.getManifest('test/app', 'latest');
    expect(m.digest).toBe(layout.images[0].manifest.digest);
    expect(proxyA.log.filter((r) => MANIFEST.test(r.path)).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('429 with Retry-After: 1 waits the second it was told, then succeeds', async () => {
    proxyA.addRule({ method: 'HEAD', path: BLOB, times: 1, action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } });
    const t0 = Date.now();
    expect(await client.blobSize('test/app', layer().digest)).toBe(layer().size);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(proxyA.log.map((r) => r.status)).toEqual([429, 200]);
  });

  it('503 every time: ERR_REGISTRY after the configured 4 tries', async () => {
    proxyA.addRule({
      method: 'GET',
      path: MANIFEST,
      action: { kind: 'status', status: 503, body: '{"errors":[{"code":"UNAVAILABLE","message":"down for maintenance"}]}' },
    });
    const err = client.getManifest('test/app', 'latest');
    await expect(err).rejects.toMatchObject({ code: 'ERR_REGISTRY' });
    await expect(err).rejects.toThrow(/HTTP 503 \(UNAVAILABLE: down for maintenance\) after 4 tries/);
    expect(proxyA.log.filter((r) => MANIFEST.test(r.path))).toHaveLength(4);
  });

  it('connections dropped before the answer, and in the middle of a manifest body, are retried', async () => {
    proxyA.addRule({ method: 'GET', path: MANIFEST, times: 1, action: { kind: 'drop', afterBytes: 0 } });
    proxyA.addRule({ method: 'GET', path: MANIFEST, times: 1, action: { kind: 'drop', afterBytes: 10 } });
    expect((await client.getManifest('test/app', 'latest')).digest).toBe(layout.images[0].manifest.digest);
    expect(proxyA.log.filter((r) => MANIFEST.test(r.path)).map((r) => r.fault ?? 'ok')).toEqual(['drop', 'drop', 'ok']);
  });

  it('a slow body arrives whole; an abort stops it at once with AbortError', async () => {
    const { digest, size } = layer();
    proxyA.addRule({ method: 'GET', path: BLOB, times: 1, action: { kind: 'slow', chunkBytes: 256 << 10, intervalMs: 30 } });
    expect(sha256(await readAll(await client.getBlob('test/app', digest, { size, verify: true })))).toBe(digest);
    proxyA.addRule({ method: 'GET', path: BLOB, times: 1, action: { kind: 'slow', chunkBytes: 16 << 10, intervalMs: 50 } });
    const ac = new AbortController();
    const stream = await client.getBlob('test/app', digest, { size, signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await expect(readAll(stream)).rejects.toMatchObject({ name: 'AbortError' });
    expect(proxyA.log.at(-1)!.responseBytes).toBeLessThan(size / 2);
  });

  it('a token the registry refuses (401) is fetched afresh once, then the request succeeds', async () => {
    await client.getManifest('test/app', 'latest');
    proxyA.clearLog();
    const before = regA.tokenServer!.requests.length;
    const challenge = `Bearer realm="${regA.tokenServer!.realm}",service="graphdriver-test-registry",scope="repository:test/app:pull",error="invalid_token"`;
    proxyA.addRule({
      method: 'GET',
      path: MANIFEST,
      times: 1,
      action: { kind: 'status', status: 401, headers: { 'www-authenticate': challenge } },
    });
    expect((await client.getManifest('test/app', 'latest')).digest).toBe(layout.images[0].manifest.digest);
    expect(regA.tokenServer!.requests.slice(before).map((r) => r.scopes)).toEqual([['repository:test/app:pull']]);
    expect(proxyA.log.filter((r) => MANIFEST.test(r.path)).map((r) => r.status)).toEqual([401, 200]);
    // refused twice in a row: ERR_REGISTRY_AUTH, not a loop
    proxyA.addRule({
      method: 'GET',
      path: MANIFEST,
      times: 2,
      action: { kind: 'status', status: 401, headers: { 'www-authenticate': challenge } },
    });
    await expect(client.getManifest('test/app', 'latest')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_AUTH',
      message: expect.stringContaining('user "tester"'),
    });
  });

  it('403 is ERR_REGISTRY_AUTH saying who was denied', async () => {
    proxyA.addRule({
      method: 'GET',
      path: MANIFEST,
      times: 1,
      action: {
        kind: 'status',
        status: 403,
        body: '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
      },
    });
    await expect(client.getManifest('test/app', 'latest')).rejects.toMatchObject({
      code: 'ERR_REGISTRY_AUTH',
      message: expect.stringContaining('denied repository:test/app:pull to user "tester": DENIED: requested access'),
    });
  });

  it('a redirect to another host is followed without the Authorization header', async () => {
    const { digest, size } = layer();
    proxyA.addRule({
      method: 'GET',
      path: BLOB,
      times: 1,
      action: { kind: 'redirect', to: (path) => `http://localhost:${proxyB.port}${path}` },
    });
    expect(sha256(await readAll(await client.getBlob('test/app', digest, { size, verify: true })))).toBe(digest);
    expect(proxyA.log.map((r) => [r.status, r.headers.authorization?.split(' ')[0]])).toEqual([[307, 'Bearer']]);
    expect(proxyB.log.map((r) => [r.status, r.headers.authorization ?? null, r.responseBytes])).toEqual([[200, null, size]]);
  });

  it('an upload that fails (503 on PUT, a dropped PATCH) is retried from a fresh source', async () => {
    const data = noise(200 << 10, 'retry-upload');
    const digest = sha256(data);
    let opened = 0;
    const open = () => {
      opened++;
      return Readable.from([data]);
    };
    proxyA.addRule({ method: 'PUT', path: /\/blobs\/uploads\//, times: 1, action: { kind: 'status', status: 503 } });
    expect(await client.uploadBlob('test/up', open, { digest, size: data.length })).toEqual({ digest, size: data.length });
    expect(opened).toBe(2);
    opened = 0;
    proxyA.addRule({ method: 'PATCH', path: /\/blobs\/uploads\//, times: 1, action: { kind: 'drop', afterBytes: 0 } });
    expect(await client.uploadBlob('test/up2', open, { chunkSize: 64 << 10 })).toEqual({ digest, size: data.length });
    expect(opened).toBe(2);
    expect(await client.blobSize('test/up2', digest)).toBe(data.length);
  });
});
