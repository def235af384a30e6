// The one guard every layer diff stream is wrapped in, naive or native: it holds what the
// diff needs (a lease on the mounted layer, a snapshot) until the stream ends or is
// destroyed, whichever comes first, and lets go of it right then: a reader that stops early
// (`| head`), an error, or an aborted signal never leaves the layer referenced.
import { WriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { destroyOnAbort } from '../abort.js';

/**
 * Wraps a diff stream begun at `started` (ms): ends it no earlier than the next second (unless
 * `waitNextSecond` is false), and calls `release` once whatever happens (end, error, destroy),
 * synchronously up to its first await on destroy (a lease counts down right there), before
 * the end is seen on end. Parents are unpacked with whole-second mtimes, so an edit made
 * within the same second as this diff would be invisible to the next one. `signal` destroys
 * it with an AbortError.
 */
export function guardDiffStream(
  inner: Readable,
  started: number,
  release: () => unknown = () => {},
  signal?: AbortSignal,
  waitNextSecond = true,
): Readable {
  let released: Promise<void> | undefined;
  // a failed unmount is retried by the next put or cleanup
  const releaseOnce = () => {
    released ??= (async () => {
      await release();
    })().catch(() => {});
    return released;
  };
  // Reading starts when the consumer reads (or pipes): a diff piped untouched into a file
  // hands the pipe on to the inner stream (see pipe below).
  let reading = false;
  let passedOn = false;
  const start = () => {
    if (reading) return;
    reading = true;
    inner.on('data', (chunk: Buffer) => {
      if (!out.push(chunk)) inner.pause();
    });
  };
  const out = new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (passedOn) return;
      start();
      inner.resume();
    },
    destroy(err, cb) {
      inner.destroy();
      void releaseOnce();
      cb(err);
    },
  });
  // Piped untouched into an fs.WriteStream (`pipeline(await driver.diff(...),
  // createWriteStream(f))`, the CLI's diff -o): the inner stream is piped there itself, so a
  // tar from exportChanges writes with the file writer's reused chunks (diff/tar-output.ts)
  // instead of a fresh buffer per chunk handed through this stream. This stream ends as it
  // would otherwise: after the inner one, no earlier than the next second, released first.
  const pipe = out.pipe.bind(out);
  out.pipe = <T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T => {
    if (reading || passedOn || out.readableFlowing !== null || !(dest instanceof WriteStream)) return pipe(dest, opts);
    passedOn = true;
    inner.pipe(dest, { end: false });
    inner.once('end', () => {
      void ended.then(() => {
        if (out.destroyed) return;
        if (opts?.end !== false) dest.end();
        out.push(null);
        out.resume(); // nothing was pushed: 'end' follows
      });
    });
    return dest;
  };
  // An abort may destroy the stream before its caller has piped it anywhere: the error is
  // still seen by every listener added later, but must not crash the process unobserved.
  out.on('error', () => {});
  destroyOnAbort(out, signal, 'diff');
  inner.once('error', (err) => out.destroy(err));
  // read to its end by the consumer: the inner stream is let go of too (a native diff's
  // snapshot is held by its stream until then, not just until the guard has buffered it)
  out.once('end', () => inner.destroy());
  const ended = new Promise<void>((resolve) => {
    inner.once('end', () => {
      void sleep(waitNextSecond ? 1000 - (started % 1000) : 0)
        .then(releaseOnce)
        .then(resolve);
    });
  });
  void ended.then(() => {
    if (!passedOn && !out.destroyed) out.push(null);
  });
  return out;
}
