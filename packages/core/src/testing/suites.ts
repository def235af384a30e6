// What every driver's robustness and loopback test files are made of, written once: the four
// robustness campaigns on one target, a loopback filesystem for a test file (or core's
// skip-or-fail rule where none can be made), a small loopback per full-disk test, and homes
// made under a directory known only once a beforeAll has run.
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { requireBackingSystem } from './backing-system.js';
import { describeConcurrency } from './concurrency.js';
import { type CrashTarget, describeCrashSafety } from './crash.js';
import type { ExhaustionTarget } from './exhaustion.js';
import { describeHostileInput, describeMalformedArguments, type HostileTarget } from './hostile.js';
import { canMakeLoopback, type LoopbackFs, type LoopbackKind, type LoopbackOptions, makeLoopbackFs } from './loopback.js';

/**
 * Crash safety, concurrency, hostile input and malformed arguments on one target: the
 * robustness suites every driver runs. `crash` sets the crash campaign's runs and seed.
 */
export function describeRobustness(
  target: CrashTarget & HostileTarget,
  opts: {
    /** The crash campaign's settings (default: 30 runs, seed 1). */
    crash?: { runs?: number; seed?: number };
  } = {},
): void {
  describeCrashSafety(target, opts.crash);
  describeConcurrency(target);
  describeHostileInput(target);
  describeMalformedArguments(target);
}

/** A loopback filesystem held for one test file, from {@link useLoopbackFs}. */
export interface TestFileLoopback {
  /** The filesystem; valid inside tests and hooks that run after the file's beforeAll. */
  fs(): LoopbackFs;
  /** Its mountpoint, likewise. */
  mountpoint(): string;
}

/**
 * A `kind` loopback filesystem for the current test file: made in beforeAll, torn down in
 * afterAll (no loop device or mount left). Where loop devices cannot be made, `suite` goes
 * through {@link requireBackingSystem} (a loud skip; a failure under CI) and the result is
 * null: declare the file's suites only when it is not. Default size 1 GiB.
 */
export function useLoopbackFs(kind: LoopbackKind, suite: string, opts: LoopbackOptions = {}): TestFileLoopback | null {
  if (!requireBackingSystem(suite, canMakeLoopback() ? null : 'loop devices need root')) return null;
  let lb: LoopbackFs | undefined;
  beforeAll(async () => {
    lb = await makeLoopbackFs(kind, { size: 1 << 30, ...opts });
  });
  afterAll(async () => {
    await lb?.teardown();
  });
  const fs = () => {
    if (!lb) throw new Error(`the loopback ${kind} of ${suite} is not set up (used outside a test?)`);
    return lb;
  };
  return { fs, mountpoint: () => fs().mountpoint };
}

/**
 * `makeSmallHome` and `removeHome` for `describeExhaustion`: each test gets a loopback
 * `kind` filesystem of its own, `size` bytes, its home at `<mountpoint>/<dir>`, torn down with
 * the home. `capacity` is about how many bytes of layers fit.
 */
export function smallLoopbackHomes(
  kind: LoopbackKind,
  opts: {
    /** Image size in bytes. */
    size: number;
    /** About how many bytes of layer data fit. */
    capacity: number;
    /** The home's directory name on the filesystem (the driver's name). */
    dir: string;
  },
): Pick<ExhaustionTarget, 'makeSmallHome' | 'removeHome'> {
  const small = new Map<string, LoopbackFs>();
  return {
    async makeSmallHome() {
      const lb = await makeLoopbackFs(kind, { size: opts.size });
      const home = join(lb.mountpoint, opts.dir);
      small.set(home, lb);
      return { home, capacity: opts.capacity };
    },
    async removeHome(home) {
      await small.get(home)?.teardown();
      small.delete(home);
    },
  };
}

/**
 * A `makeHome` making fresh `<prefix>XXXXXX` directories under `base`; a function when the
 * base is only known once a beforeAll has run (a loopback's mountpoint).
 */
export function homesUnder(base: string | (() => string), prefix: string): () => Promise<string> {
  return () => mkdtemp(join(typeof base === 'string' ? base : base(), prefix));
}
