// Concurrency: many operations at once from one process, and two processes on one home.
// One process: distinct ids proceed in parallel (proved by two applyDiffs that can only
// finish if both run at once), the same id is serialised (exactly one of many concurrent
// creates wins, exactly one remove), get/put counts stay exact under contention, and a
// layer that is mounted, has children or is being applied to is refused with ERR_LAYER_BUSY.
// Two processes: the home lock lets one in and tells the other "store is busy"
// (ERR_STORE_BUSY), also when both race for it or for a dead owner's lock.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Driver } from '../driver.js';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { packEntries } from '../tar/writer.js';
import { runInChild, type CrashTarget } from './crash.js';
import { applyModel, layerTar, readTreeModel, sameModel } from './crash-model.js';
import { removeTree } from './fixtures.js';
import { withLayer } from './layer-helpers.js';

async function withDriver(target: CrashTarget, fn: (d: Driver, home: string) => Promise<void>): Promise<void> {
  const home = await target.makeHome();
  const d = await target.init(home, target.options?.(home) ?? []);
  try {
    await fn(d, home);
  } finally {
    await d.cleanup().catch(() => {});
    await (target.removeHome ?? removeTree)(home);
  }
}

/** Settles every promise; returns the error codes (or "ok") in order. */
async function outcomes(ps: Array<Promise<unknown>>): Promise<string[]> {
  return (await Promise.allSettled(ps)).map((s) =>
    s.status === 'fulfilled' ? 'ok' : isGraphDriverError(s.reason) ? s.reason.code : `untyped: ${String(s.reason)}`,
  );
}

const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

/** A one-file tar whose body is held back until `gate` resolves (or fails after `ms`). */
function gatedTar(name: string, gate: Promise<void>, onStart: () => void, ms = 60_000): Readable {
  async function* body() {
    onStart();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      gate,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name}: the other applyDiff never started: distinct ids were serialised`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
    yield Buffer.from(`content of ${name}\n`);
  }
  return packEntries([
    { header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: `content of ${name}\n`.length, mtime: 0 }, body: body() },
  ]);
}

/**
 * Declares the concurrency suite for one driver (vitest): distinct ids run in parallel, the
 * same id is serialised, get/put counts stay exact under contention, busy layers are refused
 * with ERR_LAYER_BUSY, and a second process on the same home gets ERR_STORE_BUSY. Needs the
 * driver built (the second process runs its dist, as {@link CrashTarget.driverModule}).
 */
export function describeConcurrency(target: CrashTarget): void {
  describe(`concurrency: ${target.name}`, () => {
    it('distinct ids proceed in parallel: two applyDiffs that each wait for the other both finish', () =>
      withDriver(target, async (d) => {
        await d.create('pa', null);
        await d.create('pb', null);
        let startA!: () => void;
        let startB!: () => void;
        const aStarted = new Promise<void>((r) => (startA = r));
        const bStarted = new Promise<void>((r) => (startB = r));
        // A's body waits until B's has started and vice versa: only parallel runs finish
        await Promise.all([
          d.applyDiff('pa', null, gatedTar('a', bStarted, startA)),
          d.applyDiff('pb', null, gatedTar('b', aStarted, startB)),
        ]);
        expect(await d.list()).toEqual(['pa', 'pb']);
      }));

    it('many concurrent creates, applyDiffs and removes of distinct ids all succeed with exact content', () =>
      withDriver(target, async (d) => {
        await d.create('base', null);
        await d.applyDiff('base', null, layerTar(11, 0.2));
        const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
        expect(await outcomes(ids.map((id, i) => (i % 2 ? d.createReadWrite(id, 'base') : d.create(id, i % 3 ? 'base' : null))))).toEqual(
          ids.map(() => 'ok'),
        );
        expect(await outcomes(ids.map((id, i) => d.applyDiff(id, null, layerTar(100 + i, 0.2))))).toEqual(ids.map(() => 'ok'));
        const baseTree = applyModel(new Map(), 11, 0.2);
        for (const [i, id] of ids.entries()) {
          const expected = applyModel(i % 2 || i % 3 ? baseTree : new Map(), 100 + i, 0.2);
          await withLayer(d, id, async (root) => expect(sameModel(await readTreeModel(root), expected), `${id} content`).toBe(true));
        }
        expect(await outcomes(ids.map((id) => d.remove(id)))).toEqual(ids.map(() => 'ok'));
        expect(await d.list()).toEqual(['base']);
      }));

    it('the same id is serialised: one of many concurrent creates wins, one of many removes', () =>
      withDriver(target, async (d) => {
        await d.create('p', null);
        const creates = await outcomes(Array.from({ length: 8 }, (_, i) => (i % 2 ? d.create('x', 'p') : d.createReadWrite('x', null))));
        expect(count(creates, 'ok'), creates.join(' ')).toBe(1);
        expect(count(creates, ErrorCode.LayerExists), creates.join(' ')).toBe(7);
        const removes = await outcomes(Array.from({ length: 6 }, () => d.remove('x')));
        expect(count(removes, 'ok'), removes.join(' ')).toBe(1);
        expect(count(removes, ErrorCode.LayerNotFound), removes.join(' ')).toBe(5);
        // a create racing a remove of its parent: either the child exists (and the parent
        // stays, busy) or the parent is gone (and the child was refused)
        const [c, r] = await outcomes([d.create('child', 'p'), d.remove('p')]);
        if (c === 'ok') {
          expect(r).toBe(ErrorCode.LayerBusy);
          expect(await d.list()).toEqual(['child', 'p']);
        } else {
          expect([c, r]).toEqual([ErrorCode.LayerNotFound, 'ok']);
          expect(await d.list()).toEqual([]);
        }
      }));

    it('get/put counts stay exact under contention', () =>
      withDriver(target, async (d) => {
        await d.create('m', null);
        const paths = await Promise.all(Array.from({ length: 40 }, () => d.get('m')));
        expect(new Set(paths).size).toBe(1);
        expect(d.record?.('m')?.mounts).toBe(40);
        // interleaved: 30 puts and 20 gets at once
        const mixed = await outcomes([...Array.from({ length: 30 }, () => d.put('m')), ...Array.from({ length: 20 }, () => d.get('m'))]);
        expect(
          mixed.every((o) => o === 'ok'),
          mixed.join(' '),
        ).toBe(true);
        expect(d.record?.('m')?.mounts).toBe(30);
        await expect(d.remove('m')).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
        await Promise.all(Array.from({ length: 30 }, () => d.put('m')));
        expect(d.record?.('m')?.mounts).toBe(0);
        // an unbalanced put is tolerated and does not go negative
        await d.put('m');
        expect(d.record?.('m')?.mounts).toBe(0);
        await d.remove('m');
      }));

    it('a layer that is mounted, has children, or is being applied to is refused with ERR_LAYER_BUSY', () =>
      withDriver(target, async (d) => {
        await d.create('parent', null);
        await d.create('kid', 'parent');
        await expect(d.remove('parent')).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
        await expect(d.applyDiff('parent', null, layerTar(3, 0.1))).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
        await d.get('kid');
        await expect(d.remove('kid')).rejects.toMatchObject({ code: ErrorCode.LayerBusy });
        await d.put('kid');
        // while a diff is being applied, the layer can be neither removed nor applied to again
        let release!: () => void;
        let started!: () => void;
        const running = new Promise<void>((r) => (started = r));
        const apply = d.applyDiff('kid', null, gatedTar('g', new Promise<void>((r) => (release = r)), started));
        await running;
        const during = await outcomes([d.remove('kid'), d.applyDiff('kid', null, layerTar(4, 0.1)), d.create('grandkid', 'kid')]);
        release();
        await apply;
        expect(during, during.join(' ')).toEqual([ErrorCode.LayerBusy, ErrorCode.LayerBusy, ErrorCode.LayerBusy]);
        await d.remove('kid');
        await d.remove('parent');
        expect(await d.list()).toEqual([]);
      }));

    it('a second process cannot init a home in use: ERR_STORE_BUSY, "store is busy"', async () => {
      const home = await target.makeHome();
      try {
        // the parent holds the home: the child is refused
        const d = await target.init(home, target.options?.(home) ?? []);
        const refused = await runInChild(target, home, []);
        await d.cleanup();
        const fail = refused.journal.find((l) => l.ev === 'fail');
        expect(fail?.code, JSON.stringify(refused.journal) + refused.stderr).toBe(ErrorCode.StoreBusy);
        expect(fail?.message).toMatch(/store is busy/);

        // the child holds it: the parent is refused while it does, and gets in after
        let tried!: Promise<string>;
        const child = runInChild(target, home, [{ op: 'hold', ms: 2500 }], {
          onReady: () => {
            tried = target.init(home, target.options?.(home) ?? []).then(
              async (d2) => {
                await d2.cleanup();
                return 'ok';
              },
              (err: unknown) => (isGraphDriverError(err) ? err.code : String(err)),
            );
          },
        });
        const res = await child;
        expect(
          res.journal.map((l) => l.ev),
          res.stderr,
        ).toEqual(['ready', 'begin', 'done', 'end']);
        expect(await tried).toBe(ErrorCode.StoreBusy);
        const d3 = await target.init(home, target.options?.(home) ?? []);
        await d3.cleanup();
      } finally {
        await (target.removeHome ?? removeTree)(home);
      }
    });

    it("two processes racing for a home (fresh, or with a dead owner's lock) never both hold it", async () => {
      const home = await target.makeHome();
      try {
        // make the home's layout once, so both racers only contend for the lock
        await (await target.init(home, target.options?.(home) ?? [])).cleanup();
        for (let round = 0; round < 6; round++) {
          // odd rounds: a lock left by a process that no longer exists
          if (round % 2) await writeFile(join(home, 'lock'), '999999999 1\n');
          const racers = await Promise.all([0, 1].map(() => runInChild(target, home, [{ op: 'hold', ms: 1500 }])));
          const holds = racers
            .map((r) => ({ from: r.journal.find((l) => l.ev === 'ready')?.t, to: r.journal.find((l) => l.ev === 'end')?.t, r }))
            .filter((h) => h.from !== undefined);
          expect(holds.length, JSON.stringify(racers.map((r) => r.journal))).toBeGreaterThanOrEqual(1);
          if (holds.length === 2) {
            // both got in: only fine one after the other
            const [a, b] = holds.sort((x, y) => x.from! - y.from!);
            expect(a.to! <= b.from!, `round ${round}: both processes held the home at once`).toBe(true);
          } else {
            const loser = racers.find((r) => !r.journal.some((l) => l.ev === 'ready'))!;
            expect(loser.journal.find((l) => l.ev === 'fail')?.code, loser.stderr).toBe(ErrorCode.StoreBusy);
          }
        }
      } finally {
        await (target.removeHome ?? removeTree)(home);
      }
    });
  });
}
