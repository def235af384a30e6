// The cache download and the reader that follows it, on real files, from a source that hands
// out its bytes slowly (the registry end is tested in pull-push.test.ts): the follower gets
// every byte in order while the file is still growing, ends only once the download is
// checked, and fails with the download's own error.
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../model/digest.js';
import type { Descriptor, ImageSource } from '../transports/types.js';
import { BlobProgress, cachedBlobPath, fetchBlob, followBlob } from './blob-cache.js';

const collect = async (r: Readable) => Buffer.concat(await r.toArray());
const tick = () => new Promise((r) => setTimeout(r, 5));

/** A source that hands out `data` in small pieces, slowly (the follower must wait for bytes). */
function slowSource(data: Buffer): ImageSource {
  return {
    name: 'slow-source',
    local: false,
    manifest: async () => {
      throw new Error('not used');
    },
    blob: async (_desc: Descriptor, opts: { offset?: number } = {}) =>
      Readable.from(
        (async function* () {
          for (let at = opts.offset ?? 0; at < data.length; at += 64 << 10) {
            await tick();
            yield data.subarray(at, at + (64 << 10));
          }
        })(),
      ),
  } as unknown as ImageSource;
}

describe('blob cache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gd-blob-cache-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a follower started before the download reads every byte as it arrives, then the checked file is in place', async () => {
    const data = randomBytes(1 << 20);
    const desc = { mediaType: 'application/octet-stream', digest: sha256(data), size: data.length };
    const progress = new BlobProgress();
    const follower = collect(followBlob(progress));
    const file = await fetchBlob(slowSource(data), desc, dir, { progress });
    expect(file).toBe(cachedBlobPath(dir, desc.digest));
    expect((await follower).equals(data)).toBe(true);
    // a follower started after the end reads the checked file
    expect((await collect(followBlob(progress))).equals(data)).toBe(true);
  });

  it("a follower fails with the download's ERR_DIGEST_MISMATCH, and no partial file is kept", async () => {
    const data = randomBytes(300 << 10);
    const desc = { mediaType: 'application/octet-stream', digest: sha256(Buffer.from('other')), size: data.length };
    const progress = new BlobProgress();
    const follower = collect(followBlob(progress));
    await expect(fetchBlob(slowSource(data), desc, dir, { progress })).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    await expect(follower).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    await expect(appendFile(`${cachedBlobPath(dir, desc.digest)}.partial`, '', { flag: 'r+' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the file being renamed under a follower that has not opened it yet is found under its new name', async () => {
    const data = randomBytes(100 << 10);
    const progress = new BlobProgress();
    const partial = join(dir, 'blob.partial');
    await writeFile(partial, data);
    const follower = followBlob(progress);
    const read = collect(follower);
    // as the download does: the partial file and its bytes, then the checked name at the end
    progress.update({ path: partial, written: data.length });
    await rename(partial, join(dir, 'blob'));
    progress.update({ path: join(dir, 'blob'), end: true });
    expect((await read).equals(data)).toBe(true);
  });

  it('a resumed download hands the follower the bytes already on disk first', async () => {
    const data = randomBytes(512 << 10);
    const desc = { mediaType: 'application/octet-stream', digest: sha256(data), size: data.length };
    const final = cachedBlobPath(dir, desc.digest);
    // a partial file of the first 200 KiB, as a killed pull leaves it
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(`${final}.partial`, data.subarray(0, 200 << 10));
    const progress = new BlobProgress();
    const follower = collect(followBlob(progress));
    await fetchBlob(slowSource(data), desc, dir, { progress });
    expect((await follower).equals(data)).toBe(true);
  });
});
