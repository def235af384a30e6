// The diff commands: changes, diff (a layer tar out) and apply (a layer tar in).
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { createReadStream } from 'node:fs';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChangeKind, GraphDriverError, errInvalidOption, errnoCode, formatChange, type Change } from '@graphdriver/core';
import { CliErrorCode, pathError } from '../cli-errors.js';
import { decompressAuto, detectCompression, type Compression } from '@graphdriver/image';
import type { Output } from '../output.js';
import { withDriver, type GlobalOptions } from '../session.js';
import { parentOf } from './layers.js';

const kindLetter: Record<ChangeKind, string> = { [ChangeKind.Modify]: 'C', [ChangeKind.Add]: 'A', [ChangeKind.Delete]: 'D' };

export async function changes(g: GlobalOptions, out: Output, id: string, o: { parent?: string }) {
  await withDriver(g, async (driver) => {
    const list: Change[] = await driver.changes(id, parentOf(driver, id, o.parent));
    out.result(
      list.map((c) => ({ path: c.path, kind: kindLetter[c.kind] })),
      list.map(formatChange),
      list.map(formatChange),
    );
  });
}

/** Where `diff -o FILE` writes: `stream`, then `commit()` on success or `discard()` on failure. */
interface OutputFile {
  stream: Writable & { bytesWritten: number };
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Opens FILE for `diff -o` before the store is touched, so a wrong path costs nothing. A new
 * or regular file appears whole or not at all: the tar goes to a temporary file beside it,
 * renamed over FILE at the end. Anything else that exists (/dev/null, a fifo) is written in
 * place: renaming over it would replace the device node with a plain file.
 */
async function openOutput(file: string): Promise<OutputFile> {
  const fail = (err: unknown): never => {
    throw pathError(err, `cannot write ${file}`);
  };
  const st = await stat(file).catch((err) => (errnoCode(err) === 'ENOENT' ? undefined : fail(err)));
  if (st?.isDirectory()) throw errInvalidOption(`cannot write ${file}: it is a directory`);
  const inPlace = st !== undefined && !st.isFile();
  const path = inPlace ? file : join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(path, inPlace ? 'w' : 'wx', 0o644).catch(fail);
  const stream = handle.createWriteStream(); // closes the handle when it ends or is destroyed
  return {
    stream,
    commit: async () => {
      if (!inPlace) await rename(path, file).catch(fail);
    },
    discard: async () => {
      stream.destroy();
      if (!inPlace) await unlink(path).catch(() => {});
    },
  };
}

export async function diff(g: GlobalOptions, out: Output, id: string, o: { parent?: string; output?: string }) {
  const toStdout = o.output === undefined || o.output === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new GraphDriverError(CliErrorCode.Terminal, 'refusing to write a tar archive to a terminal: use -o FILE or redirect stdout');
  }
  const file = toStdout ? undefined : resolve(o.output!);
  const target = file === undefined ? undefined : await openOutput(file);
  try {
    await withDriver(g, async (driver) => {
      const parent = parentOf(driver, id, o.parent);
      const progress = out.progress();
      progress.part(`diff ${id}`);
      try {
        const tar = await driver.diff(id, parent, { signal: g.signal });
        if (!target) {
          const piped = pipeline(tar, process.stdout, { end: false, signal: g.signal });
          tar.on('data', (chunk: Buffer) => progress.addBytes(chunk.length));
          await piped;
          return;
        }
        // Piped untouched into the file, the tar is written with core's reused chunks (no
        // counting stage between, no fresh buffer per chunk): the progress polls the count.
        let shown = 0;
        const show = () => {
          progress.addBytes(target.stream.bytesWritten - shown);
          shown = target.stream.bytesWritten;
        };
        const timer = setInterval(show, 200);
        try {
          await pipeline(tar, target.stream, { signal: g.signal });
        } finally {
          clearInterval(timer);
        }
        show();
        await target.commit();
        const bytes = target.stream.bytesWritten;
        out.result({ id, parent, file, bytes }, `${file}: ${bytes} bytes`);
      } finally {
        progress.done();
      }
    });
  } catch (err) {
    await target?.discard();
    throw err;
  }
}

/**
 * Opens FILE before the store is touched: a missing, unreadable or wrong FILE is the
 * argument's fault, and must not cost the layer (applyDiff gives up a layer that fails).
 */
async function openInput(file: string): Promise<InputFile> {
  const fail = (err: unknown): never => {
    throw pathError(err, `cannot read ${file}`);
  };
  const st = await stat(file).catch(fail);
  if (st.isDirectory()) throw errInvalidOption(`cannot read ${file}: it is a directory`);
  const handle = await open(file, 'r').catch(fail);
  return { handle, path: resolve(file), total: st.isFile() ? st.size : undefined }; // a fifo or a device has no size to show
}

interface InputFile {
  handle: FileHandle;
  path: string;
  total?: number;
}

/** Whether `input` is a regular file holding an uncompressed archive (its first bytes say). */
async function plainTarFile(input: InputFile): Promise<boolean> {
  if (input.total === undefined) return false; // a fifo cannot be read twice
  const head = Buffer.alloc(8);
  const { bytesRead } = await input.handle.read(head, 0, head.length, 0);
  return bytesRead === head.length && detectCompression(head) === 'none';
}

/** Counts bytes on their way through, for the progress display. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

export async function apply(g: GlobalOptions, out: Output, id: string, file: string | undefined, o: { parent?: string }) {
  const fromStdin = file === undefined || file === '-';
  if (fromStdin && process.stdin.isTTY) {
    throw new GraphDriverError(CliErrorCode.Terminal, 'refusing to read a tar archive from a terminal: give FILE or redirect stdin');
  }
  const input = fromStdin ? undefined : await openInput(file!);
  try {
    await withDriver(g, async (driver) => {
      const parent = parentOf(driver, id, o.parent);
      const progress = out.progress(input?.total);
      progress.part(`apply ${id}`);
      const plain = input ? await plainTarFile(input) : false;
      // An uncompressed tar file goes to core as a plain, untouched read stream of its path,
      // which applyLayer reads directly (synchronous 1 MiB reads into reused buffers, no
      // stream hops); anything else through the decompression sniffer and a byte counter.
      const source: Readable = plain
        ? createReadStream(input!.path)
        : input
          ? input.handle.createReadStream({ highWaterMark: 1 << 20 })
          : process.stdin;
      try {
        let stream: Readable;
        let compression: Compression = 'none';
        let counted = 0;
        if (plain) {
          stream = source;
          // the open above proved the file readable; a read error is still the file's fault
          source.on('error', () => {});
        } else {
          const count = counter((n) => progress.addBytes(n));
          // pipe() does not pass errors on; one reading FILE (EIO, say) is the argument's fault too
          source.on('error', (err) => count.destroy(input ? (pathError(err, `cannot read ${file}`) as Error) : err));
          ({ compression, stream } = await decompressAuto(source.pipe(count)));
        }
        const onProgress = (p: { entries: number; bytes: number }) => {
          progress.entries(p.entries);
          // read directly, the archive's bytes are not seen here: its entries' data stand in
          if (plain && p.bytes > counted) {
            progress.addBytes(p.bytes - counted);
            counted = p.bytes;
          }
        };
        const size = await driver.applyDiff(id, parent, stream, { onProgress, signal: g.signal });
        // the layer is complete: a signal from here on does not make it look interrupted
        if (g.commit && !g.commit()) return;
        out.result(
          { id, parent, compression, size },
          `${id}: applied ${size} bytes (${compression === 'none' ? 'plain' : compression} tar)`,
          String(size),
        );
      } finally {
        progress.done();
        if (input) source.destroy();
      }
    });
  } finally {
    await input?.handle.close().catch(() => {}); // when no stream took it over
  }
}
