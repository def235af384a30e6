// Serialises operations on the same key inside one process; distinct keys run in parallel.
// The one in-process lock: the layer store keys it by layer id, drivers by whatever they
// must not run side by side (one device set, one daemon connection).
/**
 * Serialises async operations on the same key inside one process; distinct keys run in
 * parallel. Not a lock between processes (the store's lock file is that). Locks are released
 * when `fn` settles, thrown or not; keys are forgotten once free.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` holding the locks of every key (taken in sorted order, so no deadlock). */
  async with<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    for (const key of sorted) releases.push(await this.lock(key));
    try {
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  /** Runs `fn` holding the lock of `key` alone. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.with([key], fn);
  }

  private async lock(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
