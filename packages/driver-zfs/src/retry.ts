// Bounded retries for what zfs-fuse calls "busy" for a moment after an unmount: its FUSE
// sessions end asynchronously, so a dataset can be busy well after umount(2) returned.
import { isBusy } from './zfs-errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` until it does not fail with "busy", for about `budgetMs` in all (backoff 50 ms .. 1 s). */
export async function retryWhileBusy<T>(fn: () => Promise<T>, budgetMs = 5_000): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      await sleep(Math.min(50 * 2 ** attempt, 1_000, Math.max(0, deadline - Date.now())));
    }
  }
}
