// Transient references: the ones an operation of this process takes on a layer for its own
// length (a diff stream, a change list, a size), as opposed to the references `get` hands
// out, which outlive the process (a CLI `mount` is matched by a later `unmount`).
//
// They count in memory, which is what keeps a layer busy. They are also written into the
// layer's record under this driver's owner token, only so that a process that dies while
// holding one leaves evidence: the home lock admits one driver at a time, so a lease in a
// record under any other owner belongs to a driver that is gone, and `check` reports it
// (`repair` drops it). Such a lease never makes a layer busy.
import { randomBytes } from 'node:crypto';
import type { LayerRecord } from './layer-index.js';

export class Leases {
  /** This driver instance's name in records: pid, then a random tag. */
  readonly owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly counts = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();

  held(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  /** Counts one more on `id`; returns the new count. */
  take(id: string): number {
    const n = this.held(id) + 1;
    this.counts.set(id, n);
    return n;
  }

  /** Counts one less on `id` (at once, so the layer is free as soon as this returns). */
  drop(id: string): number {
    const n = Math.max(0, this.held(id) - 1);
    if (n === 0) this.counts.delete(id);
    else this.counts.set(id, n);
    return n;
  }

  /** Remembers the asynchronous part of a release, for `settled`. */
  track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
  }

  /** Waits for releases still on their way to disk (before the home is let go of). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** The record's `leases` with this owner's count set to `n`. */
  recorded(rec: LayerRecord, n: number): Record<string, number> | undefined {
    const next = { ...rec.leases };
    if (n > 0) next[this.owner] = n;
    else delete next[this.owner];
    return Object.keys(next).length ? next : undefined;
  }

  /** Leases written by other owners: drivers that ended (or died) while holding them. */
  stale(rec: LayerRecord): Array<[owner: string, count: number]> {
    return Object.entries(rec.leases ?? {}).filter(([owner]) => owner !== this.owner);
  }
}
