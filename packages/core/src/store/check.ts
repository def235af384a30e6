// `check` and `repair` of a layer store (as `containers-storage check`): every record is
// verified against the backend and against the other records, and what is wrong is named
// as a typed StoreProblem; repair mends what can be mended. Crash leftovers (half-made
// layers, temporaries of the backend) are already mended by recovery when the store is
// opened; the driver reports those alongside (layer-driver.ts).
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreProblem } from '../driver.js';
import type { LayerBackend } from './backend.js';
import { recordName, type LayerIndex, type LayerRecord } from './layer-index.js';
import type { Leases } from './leases.js';

export type { StoreProblem };

/** What check and repair need of the layer driver. */
export interface CheckedStore {
  readonly backend: LayerBackend;
  readonly index: LayerIndex;
  readonly leases: Leases;
  /** True while this process applies a diff to `id` (its 'applying' state is no damage). */
  isApplying(id: string): boolean;
  /** Removes `id`, data and record, whatever its state and references. */
  drop(id: string): Promise<void>;
  /** Sets fields of `id`'s record. */
  amend(id: string, patch: Partial<LayerRecord>): Promise<void>;
}

/** The problems of the store as it is now; changes nothing. */
export async function inspectStore(store: CheckedStore): Promise<StoreProblem[]> {
  const problems: StoreProblem[] = [];
  const { index, backend } = store;
  for (const rec of [...index.all()].sort((a, b) => a.id.localeCompare(b.id))) {
    const id = rec.id;
    if (rec.state !== 'complete' && !store.isApplying(id)) {
      problems.push({ kind: 'incomplete', id, message: `layer ${id} is ${rec.state}: the operation never finished`, repair: 'remove it' });
      continue;
    }
    if (backend.exists && !(await backend.exists(id))) {
      problems.push({
        kind: 'missing-data',
        id,
        message: `layer ${id} is recorded but its data is gone`,
        repair: 'drop its record and its children',
      });
    }
    if (rec.parent && !index.get(rec.parent)) {
      problems.push({
        kind: 'missing-parent',
        id,
        message: `layer ${id} names parent ${rec.parent}, which has no record`,
        repair: 'drop it and its children',
      });
    }
    if (!Number.isInteger(rec.mounts) || rec.mounts < 0) {
      problems.push({
        kind: 'bad-references',
        id,
        message: `layer ${id} counts ${JSON.stringify(rec.mounts)} references`,
        repair: 'count 0',
      });
    }
    for (const [owner, count] of store.leases.stale(rec)) {
      problems.push({
        kind: 'stale-references',
        id,
        message: `layer ${id} holds ${count} reference${count === 1 ? '' : 's'} of an operation of process ${owner.split('-')[0]}, which ended without releasing ${count === 1 ? 'it' : 'them'}`,
        repair: 'release them',
      });
    }
  }
  // the index directory holds records and nothing else (its own temporaries are swept at open)
  const known = new Set(index.all().map((r) => recordName(r.id)));
  for (const name of (await readdir(index.dir)).sort()) {
    if (known.has(name)) continue;
    const path = join(index.dir, name);
    problems.push({ kind: 'stray', path, message: `${path}: a file in the layer index that is no layer's record`, repair: 'remove it' });
  }
  return problems;
}

/** Mends `problems` where it can; returns them with `repaired` set (and why not, when not). */
export async function repairStore(store: CheckedStore, problems: StoreProblem[]): Promise<StoreProblem[]> {
  const out: StoreProblem[] = [];
  for (const p of problems) {
    try {
      await mend(store, p);
      out.push({ ...p, repaired: true });
    } catch (err) {
      out.push({ ...p, repaired: false, repair: `${p.repair}: failed: ${(err as Error).message}` });
    }
  }
  return out;
}

async function mend(store: CheckedStore, p: StoreProblem): Promise<void> {
  const { index } = store;
  switch (p.kind) {
    case 'missing-data':
    case 'missing-parent':
    case 'incomplete':
      for (const id of descendantsFirst(index, p.id!)) await store.drop(id);
      return;
    case 'bad-references':
      await store.amend(p.id!, { mounts: 0 });
      return;
    case 'stale-references': {
      const rec = index.get(p.id!);
      if (rec) await store.amend(p.id!, { leases: store.leases.recorded({ ...rec, leases: {} }, store.leases.held(p.id!)) });
      return;
    }
    case 'stray':
      if (p.path) await rm(p.path, { recursive: true, force: true });
      return;
  }
}

/** `id` and every layer above it, children before their parents (gone ones skipped). */
function descendantsFirst(index: LayerIndex, id: string): string[] {
  const order: string[] = [];
  const visit = (cur: string, depth: number) => {
    if (depth > 10_000) return; // a cycle in damaged records
    for (const child of index.children(cur)) visit(child, depth + 1);
    if (index.get(cur)) order.push(cur);
  };
  visit(id, 0);
  return [...new Set(order)];
}
