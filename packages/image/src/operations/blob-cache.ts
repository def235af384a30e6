// The store's cache of blobs being pulled: `<stateDir>/blobs/sha256/<hex>.partial` while a blob
// downloads, renamed to `<hex>` once its size and digest are checked. A killed pull leaves the
// partial file, and the next one asks the source only for the rest (ImageSource.blob's offset),
// re-hashing what is on disk first. Blobs are removed once the image is imported.
//
// A download can be followed while it is written (BlobFetch.follow): the layer being applied
// reads its blob from the page cache right behind the download instead of waiting for its end,
// so download and apply overlap even for an image of one layer. The download hashes the bytes
// once; the follower trusts them only when `done` resolves (the importer checks it before a
// layer counts as applied).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
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

/** What a download tells its followers: which file holds the bytes, and how many it holds. */
export class BlobProgress {
  /** The file holding the bytes (the partial file, then the checked one); undefined until writing starts. */
  path: string | undefined;
  /** Bytes in `path` that a reader may read. */
  written = 0;
  /** Set once the download is over: true when checked, else the error. */
  end: true | { error: unknown } | undefined;
  private readonly events = new EventEmitter().setMaxListeners(0);

  update(change: Partial<Pick<BlobProgress, 'path' | 'written' | 'end'>>): void {
    Object.assign(this, change);
    this.events.emit('change');
  }

  changed(): Promise<unknown> {
    return once(this.events, 'change');
  }
}

/** Appends to a file handle from `pos`, telling `onWritten` the end of what is on disk after each write. */
class FileAppender extends Writable {
  constructor(
    private readonly fh: FileHandle,
    private pos: number,
    private readonly onWritten: (end: number) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.append(chunks.map((c) => c.chunk)).then(() => cb(), cb);
  }
  private async append(bufs: Buffer[]): Promise<void> {
    let left = bufs;
    while (left.length) {
      const { bytesWritten } = await this.fh.writev(left, this.pos);
      this.pos += bytesWritten;
      // a short write: go on from the first byte not written
      let skip = bytesWritten;
      while (left.length && skip >= left[0].length) {
        skip -= left[0].length;
        left = left.slice(1);
      }
      if (skip && left.length) left = [left[0].subarray(skip), ...left.slice(1)];
    }
    this.onWritten(this.pos);
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.fh.close().then(
      () => cb(err),
      () => cb(err),
    );
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.fh.close().then(() => cb(), cb);
  }
}

/** Downloads `desc` into the cache (resuming a partial download) and returns the checked file. */
export async function fetchBlob(
  source: ImageSource,
  desc: Descriptor,
  stateDir: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void; progress?: BlobProgress } = {},
): Promise<string> {
  const progress = opts.progress;
  try {
    const file = await download(source, desc, stateDir, opts);
    progress?.update({ path: file, written: desc.size, end: true });
    return file;
  } catch (error) {
    progress?.update({ end: { error } });
    throw error;
  }
}

async function download(
  source: ImageSource,
  desc: Descriptor,
  stateDir: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void; progress?: BlobProgress },
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
    const fh = await open(partial, offset > 0 ? 'a' : 'w', 0o600).catch((err: unknown) => {
      stream.destroy();
      throw err;
    });
    opts.progress?.update({ path: partial, written: offset });
    const file = new FileAppender(fh, offset, (end) => opts.progress?.update({ written: end }));
    try {
      await pipeline(stream, counter, file, { signal: opts.signal });
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

/**
 * The bytes of a blob being fetched, from its first byte, as they reach the cache file: the
 * stream waits for more while the download runs, ends when it has been checked and fails when
 * it failed. The reader still holds the file open when the partial file is renamed.
 */
export function followBlob(progress: BlobProgress): Readable {
  let fh: FileHandle | undefined;
  let pos = 0;
  const next = async (stream: Readable): Promise<void> => {
    for (;;) {
      if (stream.destroyed) return;
      if (progress.end !== undefined && progress.end !== true) throw progress.end.error;
      if (progress.path !== undefined && pos < progress.written) {
        if (!fh) {
          const path = progress.path;
          try {
            fh = await open(path, 'r');
          } catch (err) {
            // renamed to its checked name in between: the next turn opens that
            if ((err as NodeJS.ErrnoException).code === 'ENOENT' && progress.path !== path) continue;
            throw err;
          }
          if (stream.destroyed) return void (await fh.close());
        }
        const n = Math.min(1 << 20, progress.written - pos);
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await fh.read(buf, 0, n, pos);
        if (bytesRead === 0) throw new Error(`blob cache file ${progress.path} ended at ${pos} bytes, ${progress.written} were written`);
        pos += bytesRead;
        stream.push(bytesRead < n ? buf.subarray(0, bytesRead) : buf);
        return;
      }
      if (progress.end === true) return void stream.push(null);
      await progress.changed();
    }
  };
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      next(this).catch((err: Error) => this.destroy(err));
    },
    destroy(err, cb) {
      if (!fh) return cb(err);
      fh.close().then(
        () => cb(err),
        () => cb(err),
      );
    },
  });
}
