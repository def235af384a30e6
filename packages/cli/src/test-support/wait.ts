// Polls until a condition holds, for tests waiting on another process: bounded, then a
// clear failure naming what never happened.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms: ${what} never happened`);
    await sleep(2);
  }
}
