// The docker:// transport on real registries: the source resolves an OCI index and a Docker
// manifest list to the platform asked for and says where its blobs came from; the destination
// mounts blobs from another repository of the same registry (no byte sent), uploads to another
// registry, and writes a manifest that skopeo reads back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../model/media-types.js';
import {
  buildTestLayout,
  readAll,
  sha256,
  pushTestLayout,
  skipWithout,
  skopeo,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RunningRegistry,
  type TestLayout,
} from '../test-support/index.js';
import { DockerDestination, DockerSource } from './docker-transport.js';
import type { ImageSource } from '../transports/types.js';

const skip = skipWithout('the docker:// transport suite');

describe.skipIf(skip)('docker:// transport', () => {
  let work: string;
  let regA: RunningRegistry;
  let regB: RunningRegistry;
  let proxyA: FaultProxy;
  let proxyB: FaultProxy;
  let multi: TestLayout;
  const closers: Array<{ close(): Promise<void> }> = [];
  const opts = () => ({ tlsVerify: false, authFile: join(work, 'none.json'), retry: { baseDelayMs: 10 } });
  const source = (registry: string, repository: string, ref: { tag?: string; digest?: string } = {}) => {
    const s = new DockerSource({ registry, repository, ...ref }, opts());
    closers.push(s);
    return s;
  };
  const destination = (registry: string, repository: string, ref: { tag?: string; digest?: string } = {}) => {
    const d = new DockerDestination({ registry, repository, ...ref }, opts());
    closers.push(d);
    return d;
  };

  /** Copies the image for linux/arm64 blob by blob, as the image pipeline will. */
  async function copy(src: ImageSource, dest: DockerDestination): Promise<{ digest: string; sent: string[] }> {
    const m = await src.manifest({ os: 'linux', architecture: 'arm64' });
    const body = JSON.parse(m.bytes.toString()) as {
      config: { digest: string; size: number; mediaType: string };
      layers: Array<{ digest: string; size: number; mediaType: string }>;
    };
    const sent: string[] = [];
    for (const desc of [body.config, ...body.layers]) {
      if (await dest.hasBlob(desc, src.origin)) continue;
      const bytes = await readAll(await src.blob(desc));
      expect(sha256(bytes)).toBe(desc.digest);
      const stored = await dest.putBlob(() => Readable.from([bytes]), { mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
      expect(stored).toEqual({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
      sent.push(desc.digest);
    }
    const digest = await dest.putManifest(m.bytes, m.mediaType);
    await dest.commit();
    return { digest, sent };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-docker-transport-'));
    [regA, regB] = await Promise.all([startRegistry(), startRegistry()]);
    [proxyA, proxyB] = await Promise.all([startFaultProxy(regA.host), startFaultProxy(regB.host)]);
    multi = await buildTestLayout(join(work, 'multi'), {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
      ],
      layers: 2,
    });
    await pushTestLayout(multi, regA, 'test/multi');
    await pushTestLayout(multi, regA, 'test/multi-docker', { format: 'v2s2' });
  });
  afterAll(async () => {
    for (const c of closers) await c.close();
    await Promise.all([proxyA?.stop(), proxyB?.stop()]);
    await Promise.all([regA?.stop(), regB?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('an OCI index resolves to the platform asked for; origin names the registry and repository', async () => {
    const src = source(proxyA.host, 'test/multi', { tag: 'latest' });
    expect(src.origin).toEqual({ registry: proxyA.host, repository: 'test/multi' });
    expect(src.name).toBe(`docker://${proxyA.host}/test/multi:latest`);
    const [amd64, arm64, armv7] = multi.images;
    expect((await src.manifest({ os: 'linux', architecture: 'amd64' })).digest).toBe(amd64.manifest.digest);
    expect((await src.manifest({ os: 'linux', architecture: 'arm64' })).digest).toBe(arm64.manifest.digest);
    expect((await src.manifest({ os: 'linux', architecture: 'arm64', variant: 'v8' })).digest).toBe(arm64.manifest.digest);
    const m = await src.manifest({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(m).toEqual({ bytes: multi.blobs.get(armv7.manifest.digest), mediaType: MediaType.Manifest, digest: armv7.manifest.digest });
    await expect(src.manifest({ os: 'linux', architecture: 's390x' })).rejects.toMatchObject({
      code: 'ERR_IMAGE_NOT_FOUND',
      message: expect.stringContaining('has no image for linux/s390x (it has linux/amd64, linux/arm64/v8, linux/arm/v7)'),
    });
    await expect(src.manifest({ os: 'linux', architecture: 'arm', variant: 'v6' })).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
  });

  it('a Docker manifest list resolves the same way; a reference by digest is checked', async () => {
    const list = source(proxyA.host, 'test/multi-docker', { tag: 'latest' });
    const m = await list.manifest({ os: 'linux', architecture: 'amd64' });
    expect(m.mediaType).toBe(MediaType.DockerManifest);
    const byDigest = source(proxyA.host, 'test/multi', { digest: multi.index!.digest });
    expect((await byDigest.manifest({ os: 'linux', architecture: 'amd64' })).digest).toBe(multi.images[0].manifest.digest);
    const byImageDigest = source(proxyA.host, 'test/multi', { digest: multi.images[2].manifest.digest });
    expect((await byImageDigest.manifest({ os: 'linux', architecture: 'amd64' })).digest).toBe(multi.images[2].manifest.digest);
    await expect(
      source(proxyA.host, 'test/multi', { tag: 'missing' }).manifest({ os: 'linux', architecture: 'amd64' }),
    ).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
  });

  it('blob(desc, { offset }) returns the rest of the blob', async () => {
    const layer = multi.images[0].layers[0];
    expect(await readAll(await source(proxyA.host, 'test/multi').blob(layer, { offset: 100 }))).toEqual(
      multi.blobs.get(layer.digest)!.subarray(100),
    );
  });

  it('within one registry, hasBlob mounts from the origin repository: no blob byte moves', async () => {
    proxyA.clearLog();
    const { digest, sent } = await copy(
      source(proxyA.host, 'test/multi', { tag: 'latest' }),
      destination(proxyA.host, 'test/copy', { tag: 'v1' }),
    );
    expect(digest).toBe(multi.images[1].manifest.digest);
    expect(sent).toEqual([]);
    const mounts = proxyA.log.filter((r) => r.method === 'POST' && r.path.includes('mount='));
    expect(mounts.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(
      proxyA.log.filter((r) => (r.method === 'GET' || r.method === 'PUT' || r.method === 'PATCH') && r.path.includes('/blobs/')),
    ).toEqual([]);
    expect(Buffer.from(await skopeo.inspectRaw(`docker://${regA.host}/test/copy:v1`, ['--tls-verify=false']))).toEqual(
      multi.blobs.get(digest),
    );
  });

  it('to another registry: no mount is tried, blobs are uploaded, skopeo copies the result', async () => {
    proxyB.clearLog();
    const { digest, sent } = await copy(
      source(proxyA.host, 'test/multi', { tag: 'latest' }),
      destination(proxyB.host, 'other/copy', { tag: 'v2' }),
    );
    const img = multi.images[1];
    expect(digest).toBe(img.manifest.digest);
    expect(sent).toEqual([img.config.digest, ...img.layers.map((l) => l.digest)]);
    expect(proxyB.log.filter((r) => r.path.includes('mount='))).toEqual([]);
    // a second copy finds every blob by HEAD
    const again = await copy(source(proxyA.host, 'test/multi', { tag: 'latest' }), destination(proxyB.host, 'other/copy', { tag: 'v3' }));
    expect(again.sent).toEqual([]);
    const out = join(work, 'skopeo-out');
    await skopeo.copy(`docker://${regB.host}/other/copy:v2`, `oci:${out}:v2`, ['--src-tls-verify=false']);
    const inspected = JSON.parse(await skopeo.inspectRaw(`oci:${out}:v2`)) as { layers: Array<{ digest: string }> };
    expect(inspected.layers.map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
  });

  it('putBlob without a digest computes it; a digest reference refuses other manifest bytes', async () => {
    const dest = destination(proxyB.host, 'other/raw', { digest: multi.images[0].manifest.digest });
    const data = Buffer.from('no digest given\n');
    expect(await dest.putBlob(() => Readable.from([data]), { mediaType: 'application/octet-stream' })).toEqual({
      mediaType: 'application/octet-stream',
      digest: sha256(data),
      size: data.length,
    });
    await expect(dest.putManifest(multi.blobs.get(multi.images[1].manifest.digest)!, MediaType.Manifest)).rejects.toMatchObject({
      code: 'ERR_DIGEST_MISMATCH',
    });
  });
});
