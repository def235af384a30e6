// The Readable a diff hands out: the tar of a layer, holding what it needs (a reference to
// the mounted layer, a snapshot) until it ends or is destroyed, whichever comes first, and
// releasing it right then: a reader that stops early (`| head`), an error, or an aborted
// signal never leaves the layer referenced.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { destroyOnAbort } from '../abort.js';

export interface DiffStreamOptions {
  /** When the diff was started (ms): the stream ends only in the next second. */
  started?: number;
  /** Lets go of what the diff holds; called exactly once, at the end or on destroy. */
  release: () => void | Promise<void>;
  /** Destroys the stream with an AbortError when it fires. */
  signal?: AbortSignal;
}

/**
 * Wraps `inner` (a tar Readable) as described above. With `started`: parents are unpacked
 * with whole-second mtimes, so an edit made within the same second as this diff would be
 * invisible to the next one, and the stream ends only in the next second.
 */
export function diffStream(inner: Readable, opts: DiffStreamOptions): Readable {
  let released: Promise<void> | undefined;
  // Runs opts.release synchronously up to its first await (a lease counts down right there);
  // a failed unmount is retried by the next put or cleanup.
  const release = () => (released ??= (async () => opts.release())().catch(() => {}));
  const out = new Readable({
    highWaterMark: 1 << 20,
    read() {
      inner.resume();
    },
    destroy(err, cb) {
      inner.destroy();
      void release();
      cb(err);
    },
  });
  destroyOnAbort(out, opts.signal, 'diff');
  inner.on('data', (chunk: Buffer) => {
    if (!out.push(chunk)) inner.pause();
  });
  inner.once('error', (err) => out.destroy(err));
  inner.once('end', () => {
    // released before the end is seen, so a reader that waited for the end finds it done
    void (opts.started === undefined ? Promise.resolve() : sleep(1000 - (opts.started % 1000))).then(release).then(() => {
      if (!out.destroyed) out.push(null);
    });
  });
  return out;
}
