// gzip inflated by igzip or unpigz into a file that the layer's apply reads right behind it,
// rather than through the program's stdout. A pipe holds 64-208 KiB: while the apply
// creates files, the program fills it and waits, and the two take turns instead of working
// side by side. The corpus base layer (65 MB of gzip, 160 MB of tar) applied in ~1.1 s
// through the pipe and in ~0.6 s behind a file (tools/bench/RESULTS-image.md). The file is
// unlinked as soon as it is open: what the program is ahead by lives in the page cache, and
// nothing is left on disk whatever happens to the process.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GrowingFile, makeDirs } from '@graphdriver/core';
import { gzipProgram } from './decompress.js';

/** What {@link inflateBehind} started. */
export interface InflatingFile {
  /** The inflated bytes, read as the program writes them. */
  file: GrowingFile;
  /** Stops the program and closes the file (what it wrote is gone with it). */
  stop(): void;
}

/** The prefix of the (unlinked at once) files in the inflate directory. */
const PREFIX = 'inflating-';

/**
 * Inflates the gzip stream `input` with igzip or unpigz into a file in `dir` (created if
 * needed; it should be on a disk, not tmpfs, so that a large layer costs page cache, not
 * memory) and returns it as a GrowingFile that `onChunk` sees every inflated byte of. The
 * file fails with the program's failure (ERR_INVALID_ARCHIVE for corrupt data) or with
 * `input`'s error. Undefined where no such program is installed: zlib then inflates in this
 * process, with no pipe in between.
 */
export async function inflateBehind(
  input: Readable,
  dir: string,
  opts: { onChunk?: (chunk: Buffer) => void } = {},
): Promise<InflatingFile | undefined> {
  const program = await gzipProgram();
  if (!program) return undefined;
  await makeDirs(dir);
  const path = join(dir, `${PREFIX}${randomBytes(8).toString('hex')}`);
  const writeFd = fs.openSync(path, 'wx', 0o600);
  let readFd: number;
  try {
    readFd = fs.openSync(path, 'r');
  } finally {
    fs.rmSync(path, { force: true });
  }
  let started: { finished: Promise<void>; kill(): void };
  try {
    started = program.toFile(writeFd, input);
  } catch (err) {
    fs.closeSync(readFd);
    throw err;
  } finally {
    // the program has its own descriptor now
    fs.closeSync(writeFd);
  }
  const file = new GrowingFile(readFd, started.finished, { onChunk: opts.onChunk });
  return {
    file,
    stop() {
      started.kill();
      file.close();
    },
  };
}

/**
 * Removes what a process killed between creating and unlinking an inflate file left in `dir`
 * (files over a minute old: a younger one may be another import's, about to be unlinked).
 */
export async function sweepInflateFiles(dir: string): Promise<void> {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  const old = Date.now() - 60_000;
  for (const n of names.filter((name) => name.startsWith(PREFIX))) {
    const st = await fs.promises.lstat(join(dir, n)).catch(() => undefined);
    if (st && st.mtimeMs < old) await fs.promises.rm(join(dir, n), { force: true });
  }
}
