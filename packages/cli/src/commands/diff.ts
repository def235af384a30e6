// The diff commands: changes, diff (a layer tar out) and apply (a layer tar in).
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChangeKind, GraphDriverError, formatChange, type Change } from '@graphdriver/core';
import { CliErrorCode } from '../cli-errors.js';
import { decompressAuto } from '../compression.js';
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

/** Counts bytes on their way through, for the progress display. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

export async function diff(g: GlobalOptions, out: Output, id: string, o: { parent?: string; output?: string }) {
  const toStdout = o.output === undefined || o.output === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new GraphDriverError(CliErrorCode.Terminal, 'refusing to write a tar archive to a terminal: use -o FILE or redirect stdout');
  }
  await withDriver(g, async (driver) => {
    const parent = parentOf(driver, id, o.parent);
    const progress = out.progress();
    progress.part(`diff ${id}`);
    let bytes = 0;
    const count = counter((n) => {
      bytes += n;
      progress.addBytes(n);
    });
    try {
      const tar = await driver.diff(id, parent);
      if (toStdout) {
        await pipeline(tar, count, process.stdout, { end: false });
        return;
      }
      // a file appears whole or not at all
      const file = resolve(o.output!);
      const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
      try {
        await pipeline(tar, count, createWriteStream(tmp, { mode: 0o644 }));
        await rename(tmp, file);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
      out.result({ id, parent, file, bytes }, `${file}: ${bytes} bytes`);
    } finally {
      progress.done();
    }
  });
}

export async function apply(g: GlobalOptions, out: Output, id: string, file: string | undefined, o: { parent?: string }) {
  const fromStdin = file === undefined || file === '-';
  if (fromStdin && process.stdin.isTTY) {
    throw new GraphDriverError(CliErrorCode.Terminal, 'refusing to read a tar archive from a terminal: give FILE or redirect stdin');
  }
  const total = fromStdin ? undefined : (await stat(file!)).size;
  await withDriver(g, async (driver) => {
    const parent = parentOf(driver, id, o.parent);
    const progress = out.progress(total);
    progress.part(`apply ${id}`);
    const source: Readable = fromStdin ? process.stdin : createReadStream(file!, { highWaterMark: 1 << 20 });
    try {
      const counted = counter((n) => progress.addBytes(n));
      source.on('error', (err) => counted.destroy(err));
      const { compression, stream } = await decompressAuto(source.pipe(counted));
      const size = await driver.applyDiff(id, parent, stream, { onProgress: (p) => progress.entries(p.entries) });
      out.result({ id, parent, compression, size }, `${id}: applied ${size} bytes (${compression === 'none' ? 'plain' : compression} tar)`, String(size));
    } finally {
      progress.done();
      if (!fromStdin) source.destroy();
    }
  });
}
