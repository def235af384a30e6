// Hostile input through a whole driver: every tarball of the corpus (hostile-tars.ts)
// applied with driver.applyDiff, and malformed arguments (ids, parents, storage options,
// init options, diff streams). Each must end in a typed error or a harmless outcome inside
// the layer; a sentinel directory beside the home and a neighbour layer must stay exactly
// as they were; no promise may be left rejected unhandled; the process may not grow past a
// bound while it works; and whatever a failure leaves can be removed.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver, LayerStream } from '../driver.js';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import type { CrashTarget } from './crash.js';
import { applyModel, layerTar, readTreeModel, sameModel, diffModels, type TreeModel } from './crash-model.js';
import { removeTree } from './fixtures.js';
import { DEFAULT_HOSTILE_CODES, hostileTars, type HostileTar } from './hostile-tars.js';
import { withLayer } from './layer-helpers.js';

/** A driver set up for {@link describeHostileInput} and {@link describeMalformedArguments}. */
export type HostileTarget = Pick<CrashTarget, 'name' | 'makeHome' | 'init' | 'options' | 'removeHome'> & {
  /** Init option lists this driver must refuse, beyond the generic ones. */
  badInitOptions?: string[][];
  /** Run the cases marked heavy too (default: only under `pnpm soak`, GRAPHDRIVER_SOAK=1). */
  heavy?: boolean;
  /**
   * Corpus cases this driver is known to fail, by name, with the reason (a reported bug).
   * They run as expected failures, so a fix makes them fail loudly until listed no more.
   */
  knownIssues?: Record<string, string>;
};

type Outcome = { ok: true } | { ok: false; code: string; message: string };

/** Peak growth of this process's RSS while `fn` runs (sampled every 10 ms). */
export async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{
  /** What `fn` resolved to. */
  value: T;
  /** Peak RSS minus RSS before, in bytes. */
  growth: number;
}> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

async function* asStream(chunks: Iterable<Buffer> | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* chunks;
}

/** Counts unhandled rejections while installed. */
function rejectionCounter() {
  const seen: unknown[] = [];
  const handler = (reason: unknown) => seen.push(reason);
  return {
    install: () => process.on('unhandledRejection', handler),
    remove: () => process.off('unhandledRejection', handler),
    seen,
  };
}

/** A tree beside the home that nothing may touch: files, a directory, a symlink out. */
async function makeSentinel(home: string): Promise<string> {
  const s = await mkdtemp(join(dirname(home), 'gd-sentinel-'));
  await mkdir(join(s, 'etc'));
  await writeFile(join(s, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(s, 'secret'), 'do not touch\n');
  await symlink('secret', join(s, 'link'));
  return s;
}

/**
 * Declares the hostile-tar suite for one driver (vitest): every tar of {@link hostileTars} is
 * applied to a fresh layer and must be refused with a typed code or applied harmlessly, within
 * its memory bound, touching nothing outside the home and leaving the parent layer intact.
 */
export function describeHostileInput(target: HostileTarget): void {
  const heavy = target.heavy ?? process.env.GRAPHDRIVER_SOAK === '1';
  describe(`hostile input: ${target.name}`, () => {
    let home = '';
    let sentinel = '';
    let sentinelTree: TreeModel;
    let d: Driver;
    const neighbourTree = applyModel(new Map(), 5, 0.1);
    const rejections = rejectionCounter();

    beforeAll(async () => {
      rejections.install();
      home = await target.makeHome();
      sentinel = await makeSentinel(home);
      sentinelTree = await readTreeModel(sentinel);
      d = await target.init(home, target.options?.(home) ?? []);
      await d.create('neighbour', null);
      await d.applyDiff('neighbour', null, layerTar(5, 0.1));
    });
    afterAll(async () => {
      rejections.remove();
      await d?.cleanup();
      if (sentinel) await rm(sentinel, { recursive: true, force: true });
      if (home) await (target.removeHome ?? removeTree)(home);
    });

    /** Nothing outside the layer changed, and no rejection went unhandled. */
    async function checkUntouched(what: string): Promise<void> {
      await new Promise((r) => setTimeout(r, 20)); // let stray rejections surface
      const now = await readTreeModel(sentinel);
      expect(sameModel(sentinelTree, now), `${what}: the sentinel beside the home changed: ${diffModels(sentinelTree, now)}`).toBe(true);
      await withLayer(d, 'neighbour', async (root) => {
        const t = await readTreeModel(root);
        expect(sameModel(neighbourTree, t), `${what}: the neighbour layer changed: ${diffModels(neighbourTree, t)}`).toBe(true);
      });
      expect(rejections.seen.map(String), `${what}: unhandled rejections`).toEqual([]);
    }

    const cases = hostileTars().filter((c) => heavy || !c.heavy);
    let n = 0;
    for (const c of cases) {
      const known = target.knownIssues?.[c.name];
      (known ? it.fails : it)(`${c.name}: ${c.why} (${c.expect})${known ? ` [KNOWN ISSUE: ${known}]` : ''}`, async () => {
        const id = `hostile-${++n}`;
        await d.create(id, null);
        const { value: outcome, growth } = await peakRssGrowth<Outcome>(() =>
          d.applyDiff(id, null, asStream(c.chunks())).then(
            () => ({ ok: true }) as const,
            (err: unknown) => {
              expect(isGraphDriverError(err), `${c.name}: untyped error: ${String((err as Error)?.stack ?? err)}`).toBe(true);
              const e = err as { code: string; message: string };
              return { ok: false, code: e.code, message: e.message } as const;
            },
          ),
        );
        const codes = c.codes ?? DEFAULT_HOSTILE_CODES;
        if (c.expect === 'applied') expect(outcome, JSON.stringify(outcome)).toEqual({ ok: true });
        if (c.expect === 'refused') expect(outcome.ok, JSON.stringify(outcome)).toBe(false);
        if (!outcome.ok) expect(codes, `${c.name}: ${outcome.message}`).toContain(outcome.code);
        if (!outcome.ok && c.entry !== undefined)
          expect(outcome.message, 'the refusal names the entry to blame').toContain(JSON.stringify(c.entry));
        expect(growth, `${c.name}: the process grew by ${growth} bytes`).toBeLessThan(c.memoryBound ?? 256 << 20);
        await checkUntouched(c.name);
        // a failed apply leaves an incomplete layer: not listed, flagged, removable
        expect(await d.exists(id)).toBe(outcome.ok);
        expect((await d.list()).includes(id)).toBe(outcome.ok);
        if (!outcome.ok) expect((await d.getMetadata(id)).Incomplete).toBe('true');
        await d.remove(id);
        expect(d.record?.(id)).toBeUndefined();
      });
    }

    it("every link-out case refused in a child layer (its parent's content below) costs neither layer", async () => {
      await d.create('lo-parent', null);
      await d.applyDiff('lo-parent', null, layerTar(7, 0.2));
      const parentTree = await withLayer(d, 'lo-parent', (root) => readTreeModel(root));
      // A child applies in the driver's own form (overlay: its whiteout conversion).
      for (const evil of hostileTars().filter((c) => c.name.startsWith('link-out-'))) {
        await d.create('lo-child', 'lo-parent');
        const err = await d.applyDiff('lo-child', 'lo-parent', asStream(evil.chunks())).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isGraphDriverError(err) && err.code, `${evil.name}: ${String(err)}`).toBe(ErrorCode.UnsafeEntry);
        expect((err as Error).message, evil.name).toContain(JSON.stringify(evil.entry));
        await checkUntouched(`${evil.name} in a child`);
        expect(await d.exists('lo-child'), evil.name).toBe(false);
        expect((await d.list()).includes('lo-child'), evil.name).toBe(false);
        expect((await d.getMetadata('lo-child')).Incomplete, evil.name).toBe('true');
        await d.remove('lo-child');
        const after = await withLayer(d, 'lo-parent', (root) => readTreeModel(root));
        expect(sameModel(parentTree, after), `${evil.name}: ${diffModels(parentTree, after)}`).toBe(true);
      }
      await d.remove('lo-parent');
    });
  });
}

/** Malformed arguments to every entry point: typed errors, nothing left behind. */
export function describeMalformedArguments(target: HostileTarget & { storageQuota?: boolean }): void {
  describe(`malformed arguments: ${target.name}`, () => {
    let home = '';
    let d: Driver;
    const rejections = rejectionCounter();
    beforeAll(async () => {
      rejections.install();
      home = await target.makeHome();
      d = await target.init(home, target.options?.(home) ?? []);
      await d.create('base', null);
    });
    afterAll(async () => {
      rejections.remove();
      await d?.cleanup();
      if (home) await (target.removeHome ?? removeTree)(home);
    });

    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (err: unknown) => (isGraphDriverError(err) ? err.code : `untyped: ${String(err)}`),
      );

    const badIds: unknown[] = ['', '.', '..', 'a/b', '/abs', 'a\0b', 'x'.repeat(256), 'é'.repeat(128), 123, null, {}, ['x']];

    it('invalid ids are ERR_INVALID_ID on every entry point, and nothing is made', async () => {
      for (const id of badIds) {
        const s = id as string;
        const calls: Array<[string, Promise<unknown>]> = [
          ['create', d.create(s, null)],
          ['createReadWrite', d.createReadWrite(s, null)],
          ['create with bad parent', d.create('fresh', s === null || s === '' ? 'a/b' : s)],
          ['get', d.get(s)],
          ['put', d.put(s)],
          ['remove', d.remove(s)],
          ['exists', d.exists(s)],
          ['getMetadata', d.getMetadata(s)],
          ['applyDiff', d.applyDiff(s, null, layerTar(1, 0.05))],
          ['diff', d.diff(s, null)],
          ['changes', d.changes(s, null)],
          ['diffSize', d.diffSize(s, null)],
        ];
        for (const [what, p] of calls)
          expect(`${what}(${JSON.stringify(id)}): ${await code(p)}`).toBe(`${what}(${JSON.stringify(id)}): ${ErrorCode.InvalidId}`);
      }
      expect(await d.list()).toEqual(['base']);
      expect(rejections.seen).toEqual([]);
    });

    it('odd ids (option-like, shell metacharacters, unicode) are refused typed, never interpreted', async () => {
      const cwdProbe = join(process.cwd(), 'gd-pwned');
      for (const id of [
        '-rf',
        '--help',
        '-o',
        ' space ',
        'ünïcödé',
        'x;touch gd-pwned',
        '$(touch gd-pwned)',
        '.hidden',
        'a'.repeat(200),
        'with:colon',
      ]) {
        const created = await code(d.create(id, 'base'));
        expect(created, `create(${JSON.stringify(id)})`).toBe(ErrorCode.InvalidId);
        expect(await d.exists(id).catch(() => false)).toBe(false);
      }
      expect(existsSync(cwdProbe)).toBe(false);
      expect(await d.list()).toEqual(['base']);
    });

    it('missing parents and layers are ERR_LAYER_NOT_FOUND and leave nothing behind', async () => {
      expect(await code(d.create('orphan', 'no-such-parent'))).toBe(ErrorCode.LayerNotFound);
      expect(await code(d.get('no-such'))).toBe(ErrorCode.LayerNotFound);
      expect(await code(d.remove('no-such'))).toBe(ErrorCode.LayerNotFound);
      expect(await code(d.applyDiff('no-such', null, layerTar(1, 0.05)))).toBe(ErrorCode.LayerNotFound);
      expect(await d.list()).toEqual(['base']);
    });

    it('malformed storage options and sizes are typed errors and make no layer', async () => {
      const bad: Array<Record<string, unknown>> = [
        { size: 'abc' },
        { size: '-5M' },
        { size: '1e999' },
        { size: '99999999999999999999T' },
        { size: '' },
        { size: '10M extra' },
        { size: null },
        { size: '0x100' },
        { bogus: '1' },
        { 'size ': '1G' },
        { __proto__: 'x' },
      ];
      for (const opt of bad) {
        const got = await code(d.createReadWrite('sized', 'base', { storageOpt: opt as Record<string, string> }));
        // '__proto__' as an own key is not a key at all: the create may simply work
        if (got === 'ok') {
          expect(Object.keys(opt)).toEqual([]);
          await d.remove('sized');
          continue;
        }
        expect([ErrorCode.InvalidOption, ErrorCode.QuotaNotSupported], `storageOpt ${JSON.stringify(opt)}: ${got}`).toContain(got);
        expect(await d.exists('sized')).toBe(false);
      }
      expect(await d.list()).toEqual(['base']);
    });

    it('applyDiff of something that is not a stream is a typed error and leaves the layer as it was', async () => {
      await d.create('target', null);
      for (const diff of [null, undefined, 42, 'a string', {}, { [Symbol.asyncIterator]: 5 }]) {
        const got = await code(d.applyDiff('target', null, diff as unknown as LayerStream));
        expect(got, `applyDiff(${String(diff)})`).toBe(ErrorCode.InvalidOption);
        expect(await d.exists('target')).toBe(true);
      }
      // a stream that fails mid-way: its error passes through, the layer is left incomplete and removable
      async function* failing() {
        yield Buffer.alloc(512);
        throw new Error('the network went away');
      }
      const got = await d.applyDiff('target', null, failing()).then(
        () => 'ok',
        (err: Error) => err.message,
      );
      expect(got).toMatch(/network went away/);
      expect(await d.exists('target')).toBe(false);
      await d.remove('target');
      expect(await d.list()).toEqual(['base']);
    });

    it('malformed init options are typed errors and leave the home usable', async () => {
      const other = await target.makeHome();
      try {
        const lists = [['nonsense'], ['=1'], ['unknown.key=1'], ['size'], ...(target.badInitOptions ?? [])];
        for (const extra of lists) {
          const got = await code(target.init(other, [...(target.options?.(other) ?? []), ...extra]));
          expect(got, `init with ${JSON.stringify(extra)}`).not.toBe('ok');
          expect(got.startsWith('ERR_'), `init with ${JSON.stringify(extra)}: ${got}`).toBe(true);
        }
        // the home is not left locked
        const ok = await target.init(other, target.options?.(other) ?? []);
        await ok.cleanup();
      } finally {
        await (target.removeHome ?? removeTree)(other);
      }
    });

    it('nothing went unhandled', () => {
      expect(rejections.seen.map(String)).toEqual([]);
    });
  });
}

export type { HostileTar };
