// The one guard every layer diff stream is wrapped in, naive or native.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Wraps a diff stream begun at `started` (ms): ends it no earlier than the next second, and
 * calls `release` once whatever happens (end, error, destroy). Parents are unpacked with
 * whole-second mtimes, so an edit made within the same second as this diff would be
 * invisible to the next one.
 */
export function guardDiffStream(inner: Readable, started: number, release: () => unknown = () => {}): Readable {
  async function* guarded() {
    try {
      for await (const chunk of inner) yield chunk as Buffer;
      await sleep(1000 - (started % 1000));
    } finally {
      inner.destroy();
      await release();
    }
  }
  return Readable.from(guarded(), { objectMode: false, highWaterMark: 1 << 20 });
}
