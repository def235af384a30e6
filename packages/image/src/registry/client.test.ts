// The registry client on real registry content pushed by skopeo: manifests by tag and digest
// (OCI and Docker schema 2), digest checks against tampered storage, schema 1 and oversized
// manifests refused, blobs read whole and from an offset, uploads monolithic, streamed and chunked,
// cross-repository mounts, manifest PUT read back by skopeo.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blobDataPath,
  buildTestLayout,
  readAll,
  sha256,
  noise,
  pushTestLayout,
  skipWithout,
  skopeo,
  startFaultProxy,
  startRegistry,
  tamperBlob,
  type FaultProxy,
  type RunningRegistry,
  type TestLayout,
} from '../test-support/index.js';
import { ImageErrorCode, imageError } from '../errors.js';
import { RegistryClient } from './client.js';
import { MediaType } from '../model/media-types.js';

const skip = skipWithout('the registry client suite');

describe.skipIf(skip)('registry client on docker-registry content', () => {
  let work: string;
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let single: TestLayout;
  let tampered: TestLayout;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-client-'));
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.host);
    single = await buildTestLayout(join(work, 'single'), { layers: 2, layerBytes: 200 << 10 });
    tampered = await buildTestLayout(join(work, 'tampered'), { layers: 1, seed: 'tamper' });
    await pushTestLayout(single, reg, 'test/oci');
    await pushTestLayout(single, reg, 'test/docker', { format: 'v2s2' });
    await pushTestLayout(tampered, reg, 'test/tampered');
    client = new RegistryClient(proxy.host, { tlsVerify: false, authFile: join(work, 'none.json'), retry: { baseDelayMs: 10 } });
  });
  afterAll(async () => {
    client?.close();
    await proxy?.stop();
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  });

  describe('manifests', () => {
    it('by tag and by digest: the bytes skopeo pushed, OCI media type', async () => {
      const want = single.images[0].manifest;
      for (const ref of ['latest', want.digest]) {
        const m = await client.getManifest('test/oci', ref);
        expect(m).toEqual({ bytes: single.blobs.get(want.digest), mediaType: MediaType.Manifest, digest: want.digest });
      }
    });

    it('Docker schema 2 (skopeo --format v2s2): its media type, digest of its bytes', async () => {
      const m = await client.getManifest('test/docker', 'latest');
      expect(m.mediaType).toBe(MediaType.DockerManifest);
      expect(m.digest).toBe(sha256(m.bytes));
      expect(JSON.parse(m.bytes.toString()).config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
    });

    it('unknown tag, digest or repository: ERR_IMAGE_NOT_FOUND', async () => {
      await expect(client.getManifest('test/oci', 'nope')).rejects.toMatchObject({
        code: 'ERR_IMAGE_NOT_FOUND',
        message: expect.stringContaining('test/oci:nope'),
      });
      await expect(client.getManifest('test/oci', `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
      await expect(client.getManifest('test/absent', 'latest')).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
    });

    it('a manifest changed in the registry storage: ERR_DIGEST_MISMATCH by digest and by tag', async () => {
      const { manifest, config } = tampered.images[0];
      const bytes = tampered.blobs.get(manifest.digest)!;
      // change one hex digit of the config digest inside the manifest: still valid JSON
      const at = bytes.indexOf(config.digest) + 'sha256:'.length;
      await tamperBlob(reg.storage, manifest.digest, { offset: at, replace: (b) => (b === 0x30 ? 0x31 : 0x30) });
      expect(sha256(await readFile(blobDataPath(reg.storage, manifest.digest)))).not.toBe(manifest.digest);
      await expect(client.getManifest('test/tampered', manifest.digest)).rejects.toMatchObject({
        code: 'ERR_DIGEST_MISMATCH',
        message: expect.stringContaining(`expected ${manifest.digest}`),
      });
      await expect(client.getManifest('test/tampered', 'latest')).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    });

    // distribution 2.8 takes schema 1 only signed (and only with compatibility enabled), so
    // the proxy serves one in place of the registry's answer
    it('schema 1 is ERR_UNSUPPORTED_IMAGE, by media type and by schemaVersion', async () => {
      const body = JSON.stringify({ schemaVersion: 1, name: 'test/oci', tag: 'old', architecture: 'amd64', fsLayers: [], history: [] });
      proxy.addRule({
        path: /\/manifests\/schema1$/,
        times: 1,
        action: { kind: 'status', status: 200, headers: { 'content-type': MediaType.DockerSchema1Signed }, body },
      });
      proxy.addRule({
        path: /\/manifests\/schema1json$/,
        times: 1,
        action: { kind: 'status', status: 200, headers: { 'content-type': 'application/json' }, body },
      });
      await expect(client.getManifest('test/oci', 'schema1')).rejects.toMatchObject({
        code: 'ERR_UNSUPPORTED_IMAGE',
        message: expect.stringContaining('schema 1'),
      });
      await expect(client.getManifest('test/oci', 'schema1json')).rejects.toMatchObject({
        code: 'ERR_UNSUPPORTED_IMAGE',
        message: expect.stringContaining('schema 1'),
      });
    });

    it('a manifest over 4 MiB is refused without reading it all; unknown media types are refused', async () => {
      proxy.addRule({
        path: /\/manifests\/huge$/,
        times: 1,
        action: { kind: 'status', status: 200, headers: { 'content-type': MediaType.Manifest }, body: Buffer.alloc((4 << 20) + 1, 0x20) },
      });
      await expect(client.getManifest('test/oci', 'huge')).rejects.toMatchObject({
        code: 'ERR_IMAGE_INVALID',
        message: expect.stringContaining('larger than the 4194304-byte limit'),
      });
      proxy.addRule({
        path: /\/manifests\/weird$/,
        times: 1,
        action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.example+json' }, body: '{"schemaVersion":2}' },
      });
      await expect(client.getManifest('test/oci', 'weird')).rejects.toMatchObject({
        code: 'ERR_UNSUPPORTED_IMAGE',
        message: expect.stringContaining('application/vnd.example+json'),
      });
    });
  });

  describe('blobs', () => {
    it('whole with the digest checked, and from an offset', async () => {
      const layer = single.images[0].layers[0];
      const bytes = single.blobs.get(layer.digest)!;
      expect(await readAll(await client.getBlob('test/oci', layer.digest, { size: layer.size, verify: true }))).toEqual(bytes);
      expect(await readAll(await client.getBlob('test/oci', layer.digest, { offset: 1000, size: layer.size }))).toEqual(
        bytes.subarray(1000),
      );
      expect(await readAll(await client.getBlob('test/oci', layer.digest, { offset: layer.size, size: layer.size }))).toEqual(
        Buffer.alloc(0),
      );
    });

    it('HEAD: the size when present, undefined when not; an unknown blob GET is ERR_IMAGE_NOT_FOUND', async () => {
      const { config } = single.images[0];
      expect(await client.blobSize('test/oci', config.digest)).toBe(config.size);
      expect(await client.blobSize('test/oci', `sha256:${'1'.repeat(64)}`)).toBeUndefined();
      await expect(client.getBlob('test/oci', `sha256:${'1'.repeat(64)}`)).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
    });

    it('a blob changed in the registry storage: ERR_DIGEST_MISMATCH when verified', async () => {
      const layer = tampered.images[0].layers[0];
      await tamperBlob(reg.storage, layer.digest);
      const stream = await client.getBlob('test/tampered', layer.digest, { size: layer.size, verify: true });
      await expect(readAll(stream)).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH', message: expect.stringContaining(layer.digest) });
    });

    it('more bytes than the descriptor says: ERR_DIGEST_MISMATCH', async () => {
      const layer = single.images[0].layers[1];
      await expect(readAll(await client.getBlob('test/oci', layer.digest, { size: layer.size - 1 }))).rejects.toMatchObject({
        code: 'ERR_DIGEST_MISMATCH',
      });
    });
  });

  describe('uploads', () => {
    const data = noise(300 << 10, 'upload');
    const digest = sha256(data);

    it('monolithic (digest known): POST then one PUT carrying the bytes', async () => {
      proxy.clearLog();
      expect(await client.uploadBlob('test/up-mono', () => Readable.from([data]), { digest, size: data.length })).toEqual({
        digest,
        size: data.length,
      });
      const calls = proxy.log.filter((r) => r.path.includes('/blobs/uploads/')).map((r) => [r.method, r.status, r.requestBytes]);
      expect(calls).toEqual([
        ['POST', 202, 0],
        ['PUT', 201, data.length],
      ]);
      expect(await readAll(await client.getBlob('test/up-mono', digest, { verify: true }))).toEqual(data);
    });

    it('chunked: PATCH per chunk with Content-Range, then PUT ?digest=', async () => {
      proxy.clearLog();
      const chunkSize = 128 << 10;
      const source = () => Readable.from([data.subarray(0, 1000), data.subarray(1000)]);
      expect(await client.uploadBlob('test/up-chunked', source, { chunkSize })).toEqual({ digest, size: data.length });
      const patches = proxy.log.filter((r) => r.method === 'PATCH');
      expect(patches.map((r) => [r.headers['content-range'], r.requestBytes, r.status])).toEqual([
        [`0-${chunkSize - 1}`, chunkSize, 202],
        [`${chunkSize}-${2 * chunkSize - 1}`, chunkSize, 202],
        [`${2 * chunkSize}-${data.length - 1}`, data.length - 2 * chunkSize, 202],
      ]);
      const put = proxy.log.find((r) => r.method === 'PUT')!;
      expect(put.path).toContain(`digest=${encodeURIComponent(digest)}`);
      expect(await readAll(await client.getBlob('test/up-chunked', digest, { verify: true }))).toEqual(data);
    });

    it('streamed (digest unknown): POST, one PATCH carrying every byte without Content-Range, then PUT ?digest=', async () => {
      proxy.clearLog();
      const source = () => Readable.from([data.subarray(0, 1000), data.subarray(1000, 200_000), data.subarray(200_000)]);
      expect(await client.uploadBlob('test/up-streamed', source)).toEqual({ digest, size: data.length });
      const calls = proxy.log.filter((r) => r.path.includes('/blobs/uploads/'));
      expect(calls.map((r) => [r.method, r.status, r.requestBytes, r.headers['content-range']])).toEqual([
        ['POST', 202, 0, undefined],
        ['PATCH', 202, data.length, undefined],
        ['PUT', 201, 0, undefined],
      ]);
      expect(calls[2].path).toContain(`digest=${encodeURIComponent(digest)}`);
      expect(await readAll(await client.getBlob('test/up-streamed', digest, { verify: true }))).toEqual(data);
    });

    it('a source that fails is that failure (not retried as a dropped connection), monolithic, streamed and chunked', async () => {
      let opened = 0;
      const failing = () => {
        opened++;
        return Readable.from(
          (async function* () {
            yield data.subarray(0, 1000);
            throw imageError(ImageErrorCode.DigestMismatch, 'source: the layer does not match its diff ID');
          })(),
        );
      };
      await expect(client.uploadBlob('test/up-fail', failing, { digest, size: data.length })).rejects.toThrow('does not match its diff ID');
      await expect(client.uploadBlob('test/up-fail', failing)).rejects.toThrow('does not match its diff ID');
      await expect(client.uploadBlob('test/up-fail', failing, { chunkSize: 512 })).rejects.toThrow('does not match its diff ID');
      expect(opened).toBe(3);
      expect(await client.blobSize('test/up-fail', digest)).toBeUndefined();
    });

    it('bytes that do not match the digest given: ERR_DIGEST_MISMATCH, monolithic (registry-checked), streamed and chunked', async () => {
      const wrong = sha256(Buffer.from('something else'));
      await expect(client.uploadBlob('test/up-bad', () => Readable.from([data]), { digest: wrong })).rejects.toMatchObject({
        code: 'ERR_DIGEST_MISMATCH',
      });
      await expect(
        client.uploadBlob('test/up-bad', () => Readable.from([data]), { digest: wrong, chunkSize: 1 << 20 }),
      ).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
      // a size without a digest is checked on the streamed path
      await expect(client.uploadBlob('test/up-bad', () => Readable.from([data]), { size: data.length + 1 })).rejects.toMatchObject({
        code: 'ERR_DIGEST_MISMATCH',
      });
      expect(await client.blobSize('test/up-bad', wrong)).toBeUndefined();
    });
  });

  describe('cross-repository mount and manifest PUT', () => {
    it('mounts every blob from test/oci without sending a byte, PUTs the manifest, skopeo reads it back', async () => {
      const img = single.images[0];
      proxy.clearLog();
      for (const d of [img.config, ...img.layers]) expect(await client.mountBlob('test/mounted', d.digest, 'test/oci')).toBe(true);
      const mounts = proxy.log.filter((r) => r.method === 'POST');
      expect(mounts.map((r) => [r.status, r.requestBytes, new URL(r.path, 'http://x').searchParams.get('from')])).toEqual(
        Array(3).fill([201, 0, 'test/oci']),
      );
      expect(proxy.log.filter((r) => r.method === 'PUT' || r.method === 'PATCH')).toEqual([]);
      const bytes = single.blobs.get(img.manifest.digest)!;
      expect(await client.putManifest('test/mounted', 'v1', bytes, MediaType.Manifest)).toBe(img.manifest.digest);
      const raw = await skopeo.inspectRaw(`docker://${reg.host}/test/mounted:v1`, ['--tls-verify=false']);
      expect(Buffer.from(raw)).toEqual(bytes);
    });

    it('a blob the source repository lacks is not mounted (the upload the registry opened is cancelled)', async () => {
      proxy.clearLog();
      expect(await client.mountBlob('test/mounted', `sha256:${'2'.repeat(64)}`, 'test/oci')).toBe(false);
      expect(proxy.log.map((r) => [r.method, r.status])).toEqual([
        ['POST', 202],
        ['DELETE', 204],
      ]);
    });

    it('PUT of a manifest whose blobs the repository lacks: a typed one-line error', async () => {
      const bytes = single.blobs.get(single.images[0].manifest.digest)!;
      await expect(client.putManifest('test/empty-repo', 'v1', bytes, MediaType.Manifest)).rejects.toMatchObject({
        code: 'ERR_REGISTRY',
        message: expect.stringMatching(/MANIFEST_BLOB_UNKNOWN/),
      });
    });
  });
});
