// Named fault points for crash tests. The store calls faultPoint('<name>') between the steps
// of an operation; when GRAPHDRIVER_FAULT_POINT names that point ("<name>" or "<name>#<n>",
// the n-th time it is reached), the process kills itself with SIGKILL right there, as a
// power cut or an OOM kill would. Without the variable each call is one comparison.

/** Every point the store passes; crash campaigns pick from these. */
export const FAULT_POINTS = [
  'lock:written', // lock written under a temporary name, not yet linked into place
  'atomic:written', // a record's temporary file synced, not yet renamed into place
  'create:recorded', // record saved as "creating", backend not yet called
  'create:made', // backend made the layer, record not yet "complete"
  'remove:marked', // record "removing", backend not yet called
  'remove:unmade', // backend removed the layer, record not yet deleted
  'apply:marked', // record "applying", layer not yet mounted
  'apply:mounted', // layer mounted, nothing unpacked yet
  'apply:unpacked', // tar unpacked, reference not yet released
  'apply:released', // reference released, record not yet "complete"
  'recover:swept', // one unfinished layer removed at init
  'recover:backend', // unfinished records swept, backend recovery not yet run
  'cleanup:unmounted', // mounts released, backend cleanup not yet run
] as const;

/** One of the store's own fault points ({@link FAULT_POINTS}). */
export type FaultPointName = (typeof FAULT_POINTS)[number];

const spec = process.env.GRAPHDRIVER_FAULT_POINT;
const armed: { name: string; remaining: number } | undefined = spec
  ? { name: spec.split('#')[0], remaining: Math.max(1, Number(spec.split('#')[1] ?? 1) || 1) }
  : undefined;

/**
 * A backend's own fault point: `<driver>:<step>` (e.g. `btrfs:create:unpublished`), passed by
 * that driver's crash tests alone; random crash campaigns pick from `FAULT_POINTS`.
 */
export type BackendFaultPointName = `${string}:${string}`;

/**
 * Kills the process with SIGKILL when GRAPHDRIVER_FAULT_POINT names this point (its n-th
 * pass with `<name>#<n>`); otherwise one comparison. The one crash mechanism of the tests.
 */
export function faultPoint(name: FaultPointName | BackendFaultPointName): void {
  if (armed === undefined || armed.name !== name) return;
  if (--armed.remaining > 0) return;
  process.kill(process.pid, 'SIGKILL');
  // never run past the point, even if the signal were delivered late
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}
