// The files a local image is made of, wherever they are: a directory (an OCI layout) or the
// members of a tar archive (oci-archive, docker-archive). Sources read through this, so one
// reader serves a layout and its archived form.
import { createReadStream } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { invalidImage } from '../errors.js';
import { TarIndex } from '../archive/tar-index.js';

/** Read access to the files of a local image (a layout directory or an archive's members), by relative path. */
export interface BlobFiles {
  /** For messages: the directory or archive. */
  readonly where: string;
  /** Size of a file, undefined when it is missing. */
  size(path: string): Promise<number | undefined>;
  /** A whole (small) file, refused over `max` bytes; ERR_IMAGE_INVALID when missing. */
  read(path: string, max: number): Promise<Buffer>;
  /** A file's bytes from `offset` on. */
  stream(path: string, offset?: number): Readable;
}

/**
 * Files under a directory. Only paths this package builds (from checked digests, or fixed
 * names) are asked for, so none leaves the directory.
 */
export function dirFiles(dir: string): BlobFiles {
  return {
    where: dir,
    size: (path) =>
      stat(join(dir, path)).then(
        (s) => (s.isFile() ? s.size : undefined),
        () => undefined,
      ),
    async read(path, max) {
      let fh: FileHandle;
      try {
        fh = await open(join(dir, path), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw invalidImage(dir, `${path} is missing`, err);
        throw err;
      }
      try {
        const { size } = await fh.stat();
        if (size > max) throw invalidImage(dir, `${path} is ${size} bytes, over the ${max}-byte limit`);
        const buf = Buffer.alloc(size);
        const { bytesRead } = await fh.read(buf, 0, size, 0);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
    stream: (path, offset = 0) => createReadStream(join(dir, path), { start: offset, highWaterMark: 1 << 20 }),
  };
}

/** The members of a tar archive, read in place. */
export async function archiveFiles(file: string): Promise<BlobFiles> {
  let index: TarIndex;
  try {
    index = await TarIndex.open(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw invalidImage(file, 'no such archive', err);
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw invalidImage(file, 'is a directory, not an archive', err);
    throw err;
  }
  return {
    where: file,
    size: async (path) => index.member(path)?.size,
    read: (path, max) => index.read(path, max),
    stream(path, offset = 0) {
      const m = index.member(path);
      if (!m) throw invalidImage(file, `${path} is missing from the archive`);
      return index.stream(m, offset);
    },
  };
}
