// A full backing filesystem. On a small store (a loopback btrfs or ext4 of some 100-200
// MB, a small zfs pool, a small thin pool), a layer tar bigger than the free space is
// applied: applyDiff must fail with ERR_NO_SPACE (typed, not a raw ENOSPC), the layer must
// be left incomplete (not listed, flagged in its metadata), the other layers intact; after
// the failed layer is removed, new layers work again, and a re-init sees a consistent store.
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Driver } from '../driver.js';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { packEntries, type PackEntry } from '../tar/writer.js';
import type { CrashTarget } from './crash.js';
import { applyModel, layerTar, readTreeModel, sameModel, seededBytes, diffModels } from './crash-model.js';
import { removeTree } from './fixtures.js';
import { withLayer } from './layer-helpers.js';

/** A driver set up for {@link describeExhaustion}: homes on stores small enough to fill. */
export interface ExhaustionTarget extends Pick<CrashTarget, 'name' | 'init' | 'options' | 'removeHome'> {
  /** Names the suite ("btrfs on a 256 MiB loop device"). */
  name: string;
  /** Init options for `home`. */
  options?(home: string): string[];
  /** Deletes a home after its test (default: rm -rf). */
  removeHome?(home: string): Promise<void>;
  /** A fresh home on a small store; `capacity` is roughly how many bytes layers can take. */
  makeSmallHome(): Promise<{
    /** The new, empty driver home. */
    home: string;
    /** About how many bytes of layer data fit, so a tar 1.3 times that fills the store. */
    capacity: number;
  }>;
  /** After space was freed: whatever makes it usable again (btrfs subvolume sync...). */
  afterFree?(home: string): Promise<void>;
  /** Creating a child copies the parent (vfs): a create can run out of space too. */
  copyingCreates?: boolean;
  /** Tests this driver is known to fail (by the start of their title), with the reported reason: run as expected failures. */
  knownIssues?: Record<string, string>;
}

/** A tar of incompressible files adding up to `bytes`. */
export function bigTar(bytes: number, seed = 99): Readable {
  const fileSize = 8 << 20;
  function* entries(): Generator<PackEntry> {
    yield { header: { name: 'fill/', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 } };
    for (let i = 0, left = bytes; left > 0; i++, left -= fileSize) {
      const size = Math.min(fileSize, left);
      yield {
        header: { name: `fill/f${i}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 },
        body: seededBytes(size, seed + i),
      };
    }
  }
  return packEntries(entries());
}

let lastMessage = '';
async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (err: unknown) => {
      lastMessage = String((err as Error)?.message ?? err);
      return isGraphDriverError(err) ? err.code : `untyped: ${String((err as Error)?.stack ?? err)}`;
    },
  );
}

/**
 * Declares the full-store suite for one driver (vitest): every operation on a store that runs
 * out of space either succeeds or fails with ERR_NO_SPACE, leaves nothing half made, and works
 * again once space is freed.
 */
export function describeExhaustion(target: ExhaustionTarget): void {
  const title = (t: string) => {
    const known = Object.entries(target.knownIssues ?? {}).find(([k]) => t.startsWith(k));
    return known ? ([`${t} [KNOWN ISSUE: ${known[1]}]`, it.fails] as const) : ([t, it] as const);
  };
  const [createTitle, createIt] = title('get and create on a full store succeed or fail ERR_NO_SPACE, and leave nothing half made');
  describe(`full backing store: ${target.name}`, () => {
    createIt(createTitle, async () => {
      const { home, capacity } = await target.makeSmallHome();
      const d = await target.init(home, target.options?.(home) ?? []);
      try {
        await d.create('keep', null);
        await d.create('big', 'keep');
        expect(await codeOf(d.applyDiff('big', null, bigTar(Math.ceil(capacity * 1.3))))).toBe(ErrorCode.NoSpace);
        // while full, even a get may be refused (its reference is written to disk), but typed
        const got = await codeOf(withLayer(d, 'keep', async () => {}));
        expect(['ok', ErrorCode.NoSpace], `get on a full store: ${got}: ${lastMessage}`).toContain(got);
        expect(d.record?.('keep')?.mounts).toBe(0);
        const created = await codeOf(d.create('while-full', 'keep'));
        expect(['ok', ErrorCode.NoSpace], `create on a full store: ${created}: ${lastMessage}`).toContain(created);
        if (created === 'ok') await d.remove('while-full');
        else {
          expect(await d.exists('while-full')).toBe(false);
          expect(d.record?.('while-full')).toBeUndefined();
        }
        await d.remove('big');
      } finally {
        await d.cleanup().catch(() => {});
        await (target.removeHome ?? removeTree)(home);
      }
    });

    it('applyDiff past the free space fails ERR_NO_SPACE, leaves the layer incomplete and the rest intact; freeing space makes it work again', async () => {
      const { home, capacity } = await target.makeSmallHome();
      const opts = target.options?.(home) ?? [];
      let d: Driver = await target.init(home, opts);
      try {
        const keepTree = applyModel(new Map(), 21, 0.2);
        await d.create('keep', null);
        await d.applyDiff('keep', null, layerTar(21, 0.2));

        await d.create('big', 'keep');
        const got = await codeOf(d.applyDiff('big', null, bigTar(Math.ceil(capacity * 1.3))));
        expect(got, lastMessage).toBe(ErrorCode.NoSpace);
        expect(await d.exists('big')).toBe(false);
        expect(await d.list()).toEqual(['keep']);
        expect((await d.getMetadata('big')).Incomplete).toBe('true');
        const checkKeep = () =>
          withLayer(d, 'keep', async (root) => {
            const t = await readTreeModel(root);
            expect(sameModel(keepTree, t), diffModels(keepTree, t)).toBe(true);
          });

        await d.remove('big');
        expect(d.record?.('big')).toBeUndefined();
        await target.afterFree?.(home);
        await checkKeep();
        await d.create('after', 'keep');
        await d.applyDiff('after', null, layerTar(22, 0.2));
        const afterTree = applyModel(keepTree, 22, 0.2);
        await withLayer(d, 'after', async (root) => expect(sameModel(afterTree, await readTreeModel(root))).toBe(true));

        // and after a restart everything is as it was left
        await d.cleanup();
        d = await target.init(home, opts);
        expect(await d.list()).toEqual(['after', 'keep']);
      } finally {
        await d.cleanup().catch(() => {});
        await (target.removeHome ?? removeTree)(home);
      }
    });

    if (target.copyingCreates) {
      it('a create that copies past the free space fails ERR_NO_SPACE and leaves nothing half made', async () => {
        const { home, capacity } = await target.makeSmallHome();
        const opts = target.options?.(home) ?? [];
        const d = await target.init(home, opts);
        try {
          await d.create('base', null);
          await d.applyDiff('base', null, bigTar(Math.floor(capacity * 0.4), 7));
          const results: string[] = [];
          for (let i = 0; i < 4 && !results.includes(ErrorCode.NoSpace); i++) results.push(await codeOf(d.create(`copy${i}`, 'base')));
          expect(results.at(-1), results.join(' ')).toBe(ErrorCode.NoSpace);
          const failed = `copy${results.length - 1}`;
          expect(await d.exists(failed)).toBe(false);
          expect(d.record?.(failed)).toBeUndefined();
          for (const id of (await d.list()).filter((x) => x !== 'base')) await d.remove(id);
          await target.afterFree?.(home);
          await d.create('again', 'base');
          expect(await d.list()).toEqual(['again', 'base']);
        } finally {
          await d.cleanup().catch(() => {});
          await (target.removeHome ?? removeTree)(home);
        }
      });
    }
  });
}
