import { describe, expect, it } from 'vitest';
import { chainIds } from './digest.js';
import { parseOciReference } from './reference.js';

describe('parseOciReference', () => {
  it('splits oci:DIR[:TAG] at the first colon, as skopeo does', () => {
    expect(parseOciReference('oci:/srv/img:v1')).toEqual({ dir: '/srv/img', tag: 'v1' });
    expect(parseOciReference('oci:/srv/img')).toEqual({ dir: '/srv/img' });
    expect(parseOciReference('oci:/srv/img:library/busybox:1.36')).toEqual({ dir: '/srv/img', tag: 'library/busybox:1.36' });
    expect(parseOciReference('oci:rel').dir).toMatch(/^\/.*\/rel$/);
  });

  it('refuses other transports, an empty directory and bad tags with a usage error', () => {
    for (const bad of ['docker://busybox', 'oci:', 'oci::tag', 'oci:/x:bad tag', 'oci:/x:']) {
      expect(() => parseOciReference(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    }
  });
});

describe('chainIds', () => {
  it("follows Docker's definition: the first is the diffID, then sha256(parent + ' ' + diffID)", () => {
    const a = `sha256:${'a'.repeat(64)}`;
    const b = `sha256:${'b'.repeat(64)}`;
    // sha256("sha256:aaa…a sha256:bbb…b"), computed independently with sha256sum
    expect(chainIds([a, b])).toEqual([a, 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c']);
  });
});
