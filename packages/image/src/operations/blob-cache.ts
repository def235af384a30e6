// The store's cache of blobs being pulled: `<stateDir>/blobs/sha256/<hex>.partial` while a blob
// downloads, renamed to `<hex>` once its size and digest are checked. A killed pull leaves the
// partial file, and the next one asks the source only for the rest (ImageSource.blob's offset),
// re-hashing what is on disk first. Blobs are removed once the image is imported.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isGraphDriverError, makeDirs } from '@graphdriver/core';
import { ImageErrorCode, digestMismatch } from '../errors.js';
import { DigestCounter, digestHex } from '../model/digest.js';
import type { Descriptor, ImageSource } from '../transports/types.js';

const sizeOf = (path: string) =>
  stat(path).then(
    (s) => s.size,
    () => undefined,
  );

export function cachedBlobPath(stateDir: string, digest: string): string {
  return join(stateDir, 'blobs', 'sha256', digestHex(digest));
}

/** Downloads `desc` into the cache (resuming a partial download) and returns the checked file. */
export async function fetchBlob(
  source: ImageSource,
  desc: Descriptor,
  stateDir: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<string> {
  const final = cachedBlobPath(stateDir, desc.digest);
  const partial = `${final}.partial`;
  // only checked blobs are ever renamed to their digest
  if ((await sizeOf(final)) === desc.size) return final;
  await makeDirs(join(stateDir, 'blobs', 'sha256'));
  let offset = (await sizeOf(partial)) ?? 0;
  if (offset > desc.size) {
    await unlink(partial);
    offset = 0;
  }
  const hash = createHash('sha256');
  if (offset > 0) for await (const chunk of createReadStream(partial, { end: offset - 1 })) hash.update(chunk as Buffer);
  opts.onBytes?.(offset);
  const counter = new DigestCounter({
    onBytes: opts.onBytes,
    seed: { hash, bytes: offset },
    limit: desc.size,
    what: `${source.name}: blob ${desc.digest}`,
  });
  if (offset < desc.size) {
    const stream = await source.blob(desc, { offset, signal: opts.signal });
    try {
      await pipeline(stream, counter, createWriteStream(partial, { flags: offset > 0 ? 'a' : 'w', mode: 0o600 }), { signal: opts.signal });
    } catch (err) {
      // a dropped connection keeps what arrived; bytes known to be wrong are not kept
      if (isGraphDriverError(err) && err.code === ImageErrorCode.DigestMismatch) await unlink(partial).catch(() => {});
      throw err;
    }
  } else {
    counter.end();
    counter.resume();
    await new Promise((r) => counter.once('end', r));
  }
  if (counter.bytes !== desc.size || counter.digest !== desc.digest) {
    // the bytes on disk are wrong somewhere: start again from nothing next time
    await unlink(partial).catch(() => {});
    throw digestMismatch(
      `${source.name}: blob ${desc.digest} (${counter.bytes} bytes, descriptor says ${desc.size})`,
      desc.digest,
      counter.digest,
    );
  }
  await rename(partial, final);
  return final;
}
