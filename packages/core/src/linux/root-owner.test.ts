import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { rootPair } from './root-owner.js';

describe('rootPair', () => {
  it('is 0:0 without mappings and the host ids of container id 0 with them', () => {
    expect(rootPair()).toEqual({ uid: 0, gid: 0 });
    expect(rootPair({ uidMap: [], gidMap: [] })).toEqual({ uid: 0, gid: 0 });
    expect(
      rootPair({
        uidMap: [{ containerId: 0, hostId: 100000, size: 65536 }],
        gidMap: [{ containerId: 0, hostId: 200000, size: 1 }],
      }),
    ).toEqual({ uid: 100000, gid: 200000 });
  });

  it('refuses mappings that leave the container root unmapped (ERR_INVALID_OPTION)', () => {
    expect(() => rootPair({ uidMap: [{ containerId: 1, hostId: 100001, size: 10 }], gidMap: [] })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
  });
});
