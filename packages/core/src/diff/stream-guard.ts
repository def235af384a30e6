// The one guard every layer diff stream is wrapped in, naive or native: it holds what the
// diff needs (a lease on the mounted layer, a snapshot) until the stream ends or is
// destroyed, whichever comes first, and lets go of it right then: a reader that stops early
// (`| head`), an error, or an aborted signal never leaves the layer referenced.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { destroyOnAbort } from '../abort.js';

/**
 * Wraps a diff stream begun at `started` (ms): ends it no earlier than the next second, and
 * calls `release` once whatever happens (end, error, destroy), synchronously up to its first
 * await on destroy (a lease counts down right there), before the end is seen on end.
 * Parents are unpacked with whole-second mtimes, so an edit made within the same second as
 * this diff would be invisible to the next one. `signal` destroys it with an AbortError.
 */
export function guardDiffStream(inner: Readable, started: number, release: () => unknown = () => {}, signal?: AbortSignal): Readable {
  let released: Promise<void> | undefined;
  // a failed unmount is retried by the next put or cleanup
  const releaseOnce = () => {
    released ??= (async () => {
      await release();
    })().catch(() => {});
    return released;
  };
  const out = new Readable({
    highWaterMark: 1 << 20,
    read() {
      inner.resume();
    },
    destroy(err, cb) {
      inner.destroy();
      void releaseOnce();
      cb(err);
    },
  });
  // An abort may destroy the stream before its caller has piped it anywhere: the error is
  // still seen by every listener added later, but must not crash the process unobserved.
  out.on('error', () => {});
  destroyOnAbort(out, signal, 'diff');
  inner.on('data', (chunk: Buffer) => {
    if (!out.push(chunk)) inner.pause();
  });
  inner.once('error', (err) => out.destroy(err));
  // read to its end by the consumer: the inner stream is let go of too (a native diff's
  // snapshot is held by its stream until then, not just until the guard has buffered it)
  out.once('end', () => inner.destroy());
  inner.once('end', () => {
    void sleep(1000 - (started % 1000))
      .then(releaseOnce)
      .then(() => {
        if (!out.destroyed) out.push(null);
      });
  });
  return out;
}
