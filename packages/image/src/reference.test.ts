import { describe, expect, it } from 'vitest';
import { familiarDockerReference, formatDockerReference, parseDockerReference, parseImageReference } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseDockerReference: normalised as Docker does', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['docker://busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app', 'docker.io/user/app:latest'],
    ['user/team/app:v2', 'docker.io/user/team/app:v2'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['registry-1.docker.io/user/app', 'docker.io/user/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:1', 'localhost:5000/app:1'],
    ['127.0.0.1:5000/a/b/c:x.y-z_1', '127.0.0.1:5000/a/b/c:x.y-z_1'],
    ['ghcr.io/org/img', 'ghcr.io/org/img:latest'],
    ['[::1]:5000/app', '[::1]:5000/app:latest'],
    [`quay.io/app@${D}`, `quay.io/app@${D}`],
    [`quay.io/app:1@${D}`, `quay.io/app:1@${D}`],
    ['my-registry.example.com:443/a__b/c.d/e--f', 'my-registry.example.com:443/a__b/c.d/e--f:latest'],
  ])('%s -> %s', (input, expected) => {
    expect(formatDockerReference(parseDockerReference(input))).toBe(expected);
  });

  it('a single name with a port-like tag is a Docker Hub image, as in Docker', () => {
    expect(parseDockerReference('localhost:5000')).toEqual({ registry: 'docker.io', repository: 'library/localhost', tag: '5000' });
  });

  it('splits registry, repository, tag and digest', () => {
    expect(parseDockerReference(`docker://h.example:5000/ns/app:v1@${D}`)).toEqual({
      registry: 'h.example:5000',
      repository: 'ns/app',
      tag: 'v1',
      digest: D,
    });
    expect(parseDockerReference(`h.example/app@${D}`)).toEqual({ registry: 'h.example', repository: 'app', digest: D });
  });

  it.each([
    ['', 'empty'],
    ['Busybox', 'lowercase'],
    ['host.example/App', 'lowercase'],
    ['busybox:', 'tag'],
    ['busybox:-x', 'tag'],
    [`busybox:${'x'.repeat(129)}`, 'tag'],
    ['busybox@sha256:abc', 'digest'],
    [`busybox@sha512:${'a'.repeat(128)}`, 'digest'],
    [`busybox@sha256:${'A'.repeat(64)}`, 'digest'],
    ['a//b', 'empty path component'],
    ['host.example/', 'empty path component'],
    ['host.example:99999/app', 'not a valid host'],
    ['bad_host.example/app', 'not a valid host'],
    ['app/-x', 'not a valid repository component'],
    [`h.example/${'a'.repeat(300)}`, 'longer than'],
  ])('refuses %j (%s) with ERR_INVALID_REFERENCE', (input, why) => {
    expect(() => parseDockerReference(input)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_REFERENCE', message: expect.stringContaining(why) }),
    );
  });

  it("familiar names: Docker's short form for Docker Hub, the full name elsewhere", () => {
    expect(familiarDockerReference(parseDockerReference('busybox'))).toBe('busybox:latest');
    expect(familiarDockerReference(parseDockerReference('user/app:2'))).toBe('user/app:2');
    expect(familiarDockerReference(parseDockerReference('localhost:5000/app'))).toBe('localhost:5000/app:latest');
  });
});

describe('parseImageReference', () => {
  it('oci:DIR[:TAG] and oci-archive:FILE[:TAG] split at the first colon, as skopeo does', () => {
    expect(parseImageReference('oci:/srv/img:v1')).toEqual({ transport: 'oci', dir: '/srv/img', tag: 'v1' });
    expect(parseImageReference('oci:/srv/img')).toEqual({ transport: 'oci', dir: '/srv/img' });
    expect(parseImageReference('oci:/srv/img:library/busybox:1.36')).toEqual({
      transport: 'oci',
      dir: '/srv/img',
      tag: 'library/busybox:1.36',
    });
    expect(parseImageReference('oci-archive:/x/a.tar:t')).toEqual({ transport: 'oci-archive', file: '/x/a.tar', tag: 't' });
    expect((parseImageReference('oci:rel') as { dir: string }).dir).toMatch(/^\/.*\/rel$/);
  });

  it('docker-archive:FILE[:REF] takes a Docker reference; docker:// one too', () => {
    expect(parseImageReference('docker-archive:/x/s.tar:busybox')).toEqual({
      transport: 'docker-archive',
      file: '/x/s.tar',
      ref: { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' },
    });
    expect(parseImageReference('docker-archive:/x/s.tar')).toEqual({ transport: 'docker-archive', file: '/x/s.tar' });
    expect(parseImageReference('docker://localhost:5000/app:1')).toEqual({
      transport: 'docker',
      ref: { registry: 'localhost:5000', repository: 'app', tag: '1' },
    });
  });

  it('refuses unknown transports, empty paths and bad tags with ERR_INVALID_REFERENCE', () => {
    for (const bad of [
      'busybox',
      'dir:/x',
      'oci:',
      'oci::tag',
      'oci:/x:bad tag',
      'oci:/x:',
      'oci-archive:',
      'docker-archive:/x:UPPER',
      'docker://',
    ]) {
      expect(() => parseImageReference(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REFERENCE' }));
    }
  });
});
