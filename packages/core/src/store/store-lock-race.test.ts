// Two owners racing for one home, many times: in worker threads (each has its own module
// state, as two processes would) over core's built dist, on a fresh home, on one whose
// lock was left by a dead process, and on one with an empty lock file. Never may both hold it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

// Each worker waits for the other (a shared counter), then tries createLayerDriver over a
// do-nothing backend, holds the home for a moment and reports "ok" or its error code.
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const { createLayerDriver } = await import(workerData.dist);
  const backend = { name: 'race', storageOptions: [], async create() {}, async remove() {}, async mount() { return ''; },
    async unmount() {}, async status() { return []; }, async metadata() { return {}; }, async recover() {}, async cleanup() {} };
  const flags = new Int32Array(workerData.sab);
  Atomics.add(flags, 0, 1);
  while (Atomics.load(flags, 0) < 2) Atomics.wait(flags, 0, 1, 5);
  try {
    const d = await createLayerDriver(workerData.home, backend);
    Atomics.add(flags, 1, 1);
    const most = Atomics.load(flags, 1);
    await new Promise((r) => setTimeout(r, 20));
    Atomics.sub(flags, 1, 1);
    await d.cleanup();
    parentPort.postMessage(most > 1 ? 'both' : 'ok');
  } catch (e) {
    parentPort.postMessage(e.code ?? String(e));
  }
})();
`;

let base = '';
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'gd-lock-race-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function race(home: string): Promise<string[]> {
  const sab = new SharedArrayBuffer(8);
  const workers = [0, 1].map(() => new Worker(WORKER, { eval: true, workerData: { dist, home, sab } }));
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<string>((resolve, reject) => {
          w.once('message', (m: string) => resolve(m));
          w.once('error', reject);
        }),
    ),
  );
}

describe('StoreLock between two owners', () => {
  for (const [what, lock] of [
    ['a fresh home', undefined],
    ["a dead owner's lock", '999999999 1\n'],
    ['an empty lock file', ''],
  ] as const) {
    it(`never lets both in, on ${what} (40 races)`, async () => {
      const tally: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const home = await mkdtemp(join(base, 'h-'));
        if (lock !== undefined) await writeFile(join(home, 'lock'), lock);
        for (const r of await race(home)) tally[r] = (tally[r] ?? 0) + 1;
      }
      expect(tally.both ?? 0, JSON.stringify(tally)).toBe(0);
      // every race has a winner; the other one was refused or came after
      expect(
        Object.keys(tally).filter((k) => k !== 'ok' && k !== 'ERR_STORE_BUSY'),
        JSON.stringify(tally),
      ).toEqual([]);
    });
  }
});
