// AbortSignal plumbing shared by every long operation (applyDiff, diff streams, and the
// tools built on them): one AbortError, and a byte source that stops when the signal fires.
import type { Readable } from 'node:stream';
import { AbortError } from './errors.js';
import type { LayerStream } from './driver.js';

/** The AbortError for `signal`, its reason kept as `cause`. */
export function abortError(signal: AbortSignal, what?: string): AbortError {
  const reason = signal.reason as unknown;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : undefined;
  return new AbortError(`${what ? `${what}: ` : ''}aborted${why ? ` (${why})` : ''}`, { cause: reason });
}

/** Throws the AbortError when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/** Destroys `stream` with the AbortError when `signal` fires (and forgets the signal when it closes). */
export function destroyOnAbort<S extends Readable>(stream: S, signal: AbortSignal | undefined, what?: string): S {
  if (!signal) return stream;
  const onAbort = () => stream.destroy(abortError(signal, what));
  if (signal.aborted) {
    queueMicrotask(onAbort);
    return stream;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
  return stream;
}

/**
 * `source` as an async iterable that rejects with an AbortError as soon as `signal` fires,
 * even while waiting for the next chunk (a stalled stdin), and destroys `source` then.
 * Without a signal, `source` itself.
 */
export function abortableSource(source: LayerStream, signal: AbortSignal | undefined, what?: string): LayerStream {
  if (!signal) return source;
  return (async function* () {
    const it = source[Symbol.asyncIterator]();
    // Not Promise.race against one long-lived "aborted" promise: every race adds a reaction to
    // it that keeps its chunk alive until the signal settles, i.e. the whole stream in memory.
    // One pending read at a time is rejected by the abort instead.
    let rejectRead: ((err: unknown) => void) | undefined;
    const onAbort = () => rejectRead?.(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    let done = false;
    try {
      for (;;) {
        throwIfAborted(signal, what); // inside: an abort before the first chunk destroys the source too
        const r = await new Promise<Awaited<ReturnType<typeof it.next>>>((resolve, reject) => {
          rejectRead = reject;
          it.next().then(resolve, reject);
        });
        rejectRead = undefined;
        if (r.done) {
          done = true;
          return;
        }
        yield r.value;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!done) {
        const readable = source as Partial<Readable>;
        if (typeof readable.destroy === 'function') readable.destroy();
        else void it.return?.()?.catch?.(() => {});
      }
    }
  })();
}
