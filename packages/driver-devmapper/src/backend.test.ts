// Backend checks that need no device-mapper (the rest is in the VM suites, *.vm.suite.ts).
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@graphdriver/core';
import { DevmapperBackend } from './backend.js';
import { parseDevmapperOptions } from './options.js';

describe('devicemapper backend', () => {
  // Found by the malformed-arguments campaign (robustness.vm.suite.ts): an empty or null size
  // was taken as "no size" and made a layer of the default size instead of being refused.
  it('refuses an empty, null or malformed size storage option before it touches any device', async () => {
    // never opened: a create that got as far as the device set would fail differently
    const backend = new DevmapperBackend('/nonexistent/gd-dm-home', parseDevmapperOptions([]));
    for (const size of ['', null, 'abc', '-5M', '10M extra', '0x100']) {
      await expect(
        backend.create('sized', null, { rw: true, storageOpt: { size: size as string } }),
        `size ${JSON.stringify(size)}`,
      ).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
      });
    }
  });
});
