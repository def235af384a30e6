// When and how long to wait before asking a registry again: exponential backoff with jitter,
// or what the registry said in Retry-After (capped, so a hostile answer cannot park a pull).
import { setTimeout as delay } from 'node:timers/promises';

/** How a registry request is retried after a 5xx, a 429 or a dropped connection. */
export interface RetryPolicy {
  /** Tries per request, the first included (default 5). */
  attempts: number;
  /** First backoff (default 250 ms); doubles per attempt. */
  baseDelayMs: number;
  /** Longest wait between tries, Retry-After included (default 30 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 30_000 };

/** Backoff before try number `attempt + 1` (attempt counts from 1). */
export function backoffMs(attempt: number, policy: RetryPolicy): number {
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(policy.maxDelayMs, exp / 2 + Math.random() * (exp / 2));
}

/** Retry-After as milliseconds (seconds or an HTTP date), capped; undefined when absent or bad. */
export function retryAfterMs(header: string | string[] | undefined, policy: RetryPolicy): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  let ms: number;
  if (/^\d+$/.test(value.trim())) ms = Number(value.trim()) * 1000;
  else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    ms = at - Date.now();
  }
  return Math.max(0, Math.min(policy.maxDelayMs, ms));
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => delay(ms, undefined, { signal });
