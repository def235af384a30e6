// The image model on its own: chain IDs, bounded and strict parsing of hostile documents,
// platform matching.
import { describe, expect, it } from 'vitest';
import { chainIds, sha256 } from './digest.js';
import { MAX_MANIFEST_BYTES, manifestKind, parseConfig, parseJsonBlob, parseManifest } from './parse.js';
import { hostPlatform, parsePlatform, selectPlatform } from './platform.js';
import type { Descriptor } from './types.js';

const hex = (c: string) => c.repeat(64);
const desc = (over: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  digest: `sha256:${hex('a')}`,
  size: 1,
  ...over,
});

describe('chainIds', () => {
  it("follows Docker's definition: the first is the diffID, then sha256(parent + ' ' + diffID)", () => {
    const a = `sha256:${hex('a')}`;
    const b = `sha256:${hex('b')}`;
    // sha256("sha256:aaa…a sha256:bbb…b"), computed independently with sha256sum
    expect(chainIds([a, b])).toEqual([a, 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c']);
  });
  it('refuses a diff ID that is not sha256:<64 hex>', () => {
    expect(() => chainIds(['sha256:abc'])).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
  });
});

describe('parsing manifests and configs', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: desc({ mediaType: 'application/vnd.oci.image.config.v1+json' }),
    layers: [desc()],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));

  it('checks the digest and the size bound before parsing', () => {
    expect(parseJsonBlob(bytes, 'm', { max: MAX_MANIFEST_BYTES, digest: sha256(bytes) })).toEqual(manifest);
    expect(() => parseJsonBlob(bytes, 'm', { max: MAX_MANIFEST_BYTES, digest: `sha256:${hex('0')}` })).toThrow(
      expect.objectContaining({ code: 'ERR_DIGEST_MISMATCH' }),
    );
    expect(() => parseJsonBlob(bytes, 'm', { max: 10 })).toThrow(
      expect.objectContaining({ code: 'ERR_IMAGE_INVALID', message: expect.stringContaining('limit') }),
    );
    expect(() => parseJsonBlob(Buffer.from('{"a":'), 'm', { max: 100 })).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
    expect(() => parseJsonBlob(Buffer.from('[1]'), 'm', { max: 100 })).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
  });

  it('validates every descriptor: digests (sha256 only, lowercase), sizes, media types', () => {
    expect(parseManifest(manifest, 'm').layers).toEqual([desc()]);
    for (const bad of [
      { digest: 'sha256:abc' },
      { digest: `sha512:${hex('a')}${hex('a')}` },
      { digest: `sha256:${hex('A')}` },
      { digest: `sha256:${hex('a')}/../../etc` },
      { size: -1 },
      { size: 1.5 },
      { size: '1' },
      { mediaType: 5 },
    ]) {
      expect(() => parseManifest({ ...manifest, layers: [{ ...desc(), ...bad }] }, 'm'), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }),
      );
    }
    expect(() => parseManifest({ ...manifest, layers: 'x' }, 'm')).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
    expect(() => parseManifest({ ...manifest, config: null }, 'm')).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
  });

  it('tells manifests from indexes; refuses schema 1 and unknown types as unsupported', () => {
    expect(manifestKind(manifest, undefined, 'm')).toBe('manifest');
    expect(manifestKind({ schemaVersion: 2, manifests: [] }, undefined, 'm')).toBe('index');
    expect(manifestKind({ schemaVersion: 2, manifests: [] }, 'application/vnd.docker.distribution.manifest.list.v2+json', 'm')).toBe(
      'index',
    );
    expect(() => manifestKind({ schemaVersion: 1, fsLayers: [] }, undefined, 'm')).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_IMAGE', message: expect.stringContaining('schema 1') }),
    );
    expect(() => manifestKind({ schemaVersion: 2 }, 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'm')).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_IMAGE' }),
    );
    expect(() => manifestKind({ schemaVersion: 2, mediaType: 'application/x-other' }, undefined, 'm')).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_IMAGE' }),
    );
    expect(() => manifestKind({ ...manifest }, 'application/vnd.oci.image.index.v1+json', 'm')).toThrow(
      expect.objectContaining({ code: 'ERR_IMAGE_INVALID', message: expect.stringContaining('served as') }),
    );
    expect(() => manifestKind({ schemaVersion: 3 }, undefined, 'm')).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
  });

  it('a config needs os, architecture and sha256 diff_ids', () => {
    const config = { os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [`sha256:${hex('b')}`] } };
    expect(parseConfig(config, 'c').rootfs.diff_ids).toHaveLength(1);
    expect(() => parseConfig({ ...config, rootfs: {} }, 'c')).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
    expect(() => parseConfig({ ...config, rootfs: { diff_ids: ['md5:x'] } }, 'c')).toThrow(
      expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }),
    );
    expect(() => parseConfig({ rootfs: config.rootfs }, 'c')).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_INVALID' }));
  });
});

describe('platforms', () => {
  const entry = (os: string, architecture: string, variant?: string) =>
    desc({ platform: { os, architecture, ...(variant ? { variant } : {}) }, digest: `sha256:${hex(String(architecture.length % 10))}` });
  const index = [
    entry('linux', 'amd64'),
    entry('linux', 'arm', 'v6'),
    entry('linux', 'arm', 'v7'),
    entry('linux', 'arm64', 'v8'),
    entry('windows', 'amd64'),
  ];

  it('parses OS/ARCH[/VARIANT] and refuses anything else', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', 'Linux/AMD64']) {
      expect(() => parsePlatform(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REFERENCE' }));
    }
  });

  it('matches os, architecture and variant; arm64 without a variant is v8', () => {
    expect(selectPlatform(index, { os: 'linux', architecture: 'amd64' })).toBe(index[0]);
    expect(selectPlatform(index, { os: 'windows', architecture: 'amd64' })).toBe(index[4]);
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(index[2]);
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm64' })).toBe(index[3]);
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v5' })).toBeUndefined();
    expect(selectPlatform(index, { os: 'linux', architecture: 's390x' })).toBeUndefined();
  });

  it("this host's platform uses OCI's architecture names", () => {
    const p = hostPlatform();
    expect(p.os).toBe('linux');
    if (process.arch === 'x64') expect(p.architecture).toBe('amd64');
  });
});
