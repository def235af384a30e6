// Where an assembled tar goes: a Readable stream (exportChanges, tarDirectory), or straight
// into a file (exportChangesToFile, tarDirectoryToFile).
//
// Why two: a Readable must hand every chunk over for good (its consumer may keep it), so
// each chunk is new memory, and on a 170 MB tree the kernel faulting those fresh pages in
// costs ~20-30 ms of a ~195 ms tar. Writing to a file ourselves, a chunk
// comes back as soon as its write is done, so the same dozen chunks carry the whole
// archive. The file is written under a temporary name and renamed into place when
// complete, so a crash or an error never leaves a half-written layer at the path.
import { WriteStream, write, type Stats } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { errnoCode } from '../errors.js';
import { CHUNK_SIZE, MAX_CHUNKS, TarAssembler, type ChunkOutput, type PlanSource } from './tar-assembler.js';

/** A Readable of the archive's bytes. */
class TarReadable extends Readable {
  private readonly assembler: TarAssembler;
  private started = false;

  constructor(private readonly plan: PlanSource) {
    super({ highWaterMark: 2 * CHUNK_SIZE });
    const output: ChunkOutput = {
      // Uninitialized memory: the assembler writes every byte it hands over.
      alloc: () => Buffer.allocUnsafeSlow(CHUNK_SIZE),
      put: (chunk, length) => this.push(length === chunk.length ? chunk : chunk.subarray(0, length)),
      end: () => this.push(null),
      fail: (err) => this.destroy(err),
    };
    this.assembler = new TarAssembler(plan, output);
  }

  override _read(): void {
    this.started = true;
    this.assembler.resume();
  }

  /**
   * Piped, untouched, straight into an fs.WriteStream (what `pipeline(tarDirectory(dir),
   * createWriteStream(f))` does): the archive is written into the stream with the file
   * writer's reused chunks, since a WriteStream is done with a chunk when its write calls
   * back. Any other destination gets the chunks as a Readable hands them out.
   */
  override pipe<T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T {
    if (this.started || this.readableFlowing !== null || !(dest instanceof WriteStream) || dest.writableLength > 0) {
      return super.pipe(dest, opts);
    }
    this.started = true;
    const ws = dest as WriteStream;
    const writeChunk: WriteChunk = (buf, off, length, cb) => {
      ws.write(buf.subarray(off, off + length), (err) => cb(err ?? null, length));
    };
    writeArchive(() => this.plan, writeChunk).then(
      () => {
        if (opts?.end !== false) ws.end();
        this.push(null);
        this.resume(); // no data was pushed: 'end' follows
      },
      (err: Error) => this.destroy(err),
    );
    return dest;
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.assembler.abort();
    cb(err);
  }
}

export function tarReadable(plan: PlanSource): Readable {
  return new TarReadable(plan);
}

/** Writes still queued or running before the assembler is asked to pause. */
const MAX_QUEUED_WRITES = 2;

/**
 * Writes the whole archive through `writeChunk` (a descriptor at its current offset, or a
 * WriteStream), one write at a time, reusing each chunk once its write is done. Resolves
 * to the number of bytes written, and never before the last write has returned (the
 * caller may then close the descriptor).
 */
type WriteChunk = (buf: Buffer, off: number, length: number, cb: (err: Error | null, written: number) => void) => void;

/** fs.write at the descriptor's offset, as writeArchive's sink. */
const toFd =
  (fd: number): WriteChunk =>
  (buf, off, length, cb) =>
    write(fd, buf, off, length, null, cb);

function writeArchive(createPlan: () => PlanSource, writeChunk: WriteChunk): Promise<number> {
  return new Promise((resolve, reject) => {
    const free: Buffer[] = [];
    const queue: { buf: Buffer; length: number }[] = [];
    let writing = false;
    let ended = false;
    let failure: Error | null = null;
    let bytes = 0;

    /**
     * Settles once no write is running: with the first error, or the byte count at the end.
     * (Called again after that, it changes nothing: a promise settles once.)
     */
    const settleIfIdle = (): void => {
      if (writing) return;
      if (failure !== null) reject(failure);
      else if (ended && queue.length === 0) resolve(bytes);
    };

    const fail = (err: Error): void => {
      failure ??= err;
      settleIfIdle();
    };

    const writeNext = (): void => {
      const next = writing || failure !== null ? undefined : queue.shift();
      if (next === undefined) {
        settleIfIdle();
        return;
      }
      writing = true;
      let off = 0;
      const step = (): void => {
        writeChunk(next.buf, off, next.length - off, (err, n) => {
          if (!err && n === 0) err = Object.assign(new Error(`write returned 0 bytes of ${next.length - off}`), { code: 'EIO' });
          if (!err && off + n < next.length && failure === null) {
            off += n;
            step(); // a short write (a full disk reports ENOSPC on the next one)
            return;
          }
          writing = false;
          if (err) {
            assembler.abort();
            fail(err);
            return;
          }
          bytes += next.length;
          free.push(next.buf);
          writeNext();
          if (failure === null && !ended && queue.length < MAX_QUEUED_WRITES) assembler.resume();
        });
      };
      step();
    };

    let assembler: TarAssembler;
    try {
      assembler = new TarAssembler(createPlan(), {
        alloc: () => free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_SIZE),
        put: (buf, length) => {
          queue.push({ buf, length });
          writeNext();
          return queue.length < MAX_QUEUED_WRITES;
        },
        end: () => {
          ended = true;
          writeNext();
        },
        fail,
      });
    } catch (err) {
      fail(err as Error);
      return;
    }
    assembler.resume();
  });
}

/** Chunks in use at most by writeArchive: in the assembler's hands, queued, and being written. */
export const FILE_WRITER_CHUNKS = MAX_CHUNKS + MAX_QUEUED_WRITES + 1;

/** Opens `path`, writes the whole archive into it and closes it. */
async function writeToPath(createPlan: () => PlanSource, path: string, flags: string, mode?: number): Promise<number> {
  const handle = await open(path, flags, mode);
  try {
    return await writeArchive(createPlan, toFd(handle.fd));
  } finally {
    await handle.close();
  }
}

/**
 * Writes the archive of `createPlan()` to `dest`: a path, or a descriptor open for writing
 * (written from its current offset, left open). A path that names nothing yet, or a
 * regular file, gets the archive under a temporary name beside it, renamed into place when
 * complete (a new file: mode 0666 less the umask); on failure the temporary file is
 * removed and `dest` is as it was. Any other path (/dev/null, a FIFO, a symlink) is opened
 * and written as it is.
 */
export async function writeTarTo(createPlan: () => PlanSource, dest: string | number): Promise<number> {
  if (typeof dest === 'number') return writeArchive(createPlan, toFd(dest));

  let st: Stats | undefined;
  try {
    st = await lstat(dest);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  // (a directory fails in open, with EISDIR)
  if (st !== undefined && !st.isFile()) return writeToPath(createPlan, dest, 'w');

  const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`);
  try {
    const bytes = await writeToPath(createPlan, tmp, 'wx', 0o666);
    await rename(tmp, dest);
    return bytes;
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
