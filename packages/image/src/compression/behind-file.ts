// An inflating or compressing program (igzip, unpigz, pigz, zstd) writing into a file that
// this process reads right behind it, rather than through the program's stdout. A pipe holds
// 64-208 KiB: while this process's one thread creates files (a pull) or walks a tree (a
// push), the program fills the pipe and waits, and the two take turns instead of working side
// by side. The corpus base layer (65 MB of gzip, 160 MB of tar) applied in ~1.1 s through the
// pipe and in ~0.6 s behind a file (tools/bench/RESULTS-image.md). The file is unlinked as
// soon as it is open: what the program is ahead by lives in the page cache, and nothing is
// left on disk whatever happens to the process.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GrowingFile, makeDirs } from '@graphdriver/core';
import type { Filter } from './filter.js';

/** What {@link runBehindFile} started. */
export interface BehindFile {
  /** The program's output, read as it writes it. */
  file: GrowingFile;
  /** Stops the program and closes the file (what it wrote is gone with it). */
  stop(): void;
}

/**
 * The largest layer a push puts through files (its tree's size): a twentieth of the memory
 * (1.2 GiB of 24). What a program is ahead by is dirty page cache. A push writes two such
 * files (the tar and the compressed blob); kept under the tenth of memory at which the kernel
 * starts writing dirty pages back, they never reach the disk. A pull also writes the
 * downloaded blob and the layer itself, so it puts a blob through a file only up to a third
 * of this (a 1 GiB layer pulled through files took 9.0 s, through the pipe 6.0 s). Larger
 * layers go through pipes.
 */
export const behindFileLimit = (): number => Math.floor(os.totalmem() / 20);

/** Where an import or export with state directory `stateDir` keeps these files. */
export const behindFileDir = (stateDir: string): string => join(stateDir, 'tmp');

/** The prefix of the (unlinked at once) files in the directory. */
const PREFIX = 'behind-';

/**
 * A new file in `dir` (created if needed; it should be on a disk, not tmpfs, so that a large
 * layer costs page cache, not memory), open for writing and for reading and already
 * unlinked: nothing of it outlives the two descriptors, which are the caller's to close.
 */
export async function openUnlinked(dir: string): Promise<{ writeFd: number; readFd: number }> {
  await makeDirs(dir);
  const path = join(dir, `${PREFIX}${randomBytes(8).toString('hex')}`);
  const writeFd = fs.openSync(path, 'wx', 0o600);
  try {
    return { writeFd, readFd: fs.openSync(path, 'r') };
  } catch (err) {
    fs.closeSync(writeFd);
    throw err;
  } finally {
    fs.rmSync(path, { force: true });
  }
}

/**
 * Runs `program` on `input` (a stream, or a file descriptor it reads from its start) with
 * its output going into an unlinked file in `dir` ({@link openUnlinked}), and returns that
 * file as a GrowingFile whose `onChunk` sees every byte of the output. The file fails with
 * the program's failure (ERR_INVALID_ARCHIVE for corrupt gzip) or with `input`'s error.
 */
export async function runBehindFile(
  program: Filter,
  input: Readable | number,
  dir: string,
  opts: { onChunk?: (chunk: Buffer) => void } = {},
): Promise<BehindFile> {
  const { writeFd, readFd } = await openUnlinked(dir);
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
 * Removes what a process killed between creating and unlinking such a file left in `dir`
 * (files over a minute old: a younger one may be another process's, about to be unlinked).
 */
export async function sweepBehindFiles(dir: string): Promise<void> {
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  const old = Date.now() - 60_000;
  for (const n of names.filter((name) => name.startsWith(PREFIX))) {
    const st = await fs.promises.lstat(join(dir, n)).catch(() => undefined);
    if (st && st.mtimeMs < old) await fs.promises.rm(join(dir, n), { force: true });
  }
}
