// Crash safety campaigns. A child process (crash-child.ts, plain node over a driver
// package's built dist) runs a seeded random plan of create / createReadWrite / applyDiff /
// remove / cleanup on a home and journals every finished operation; the parent SIGKILLs it
// after a random delay, or arms a named fault point in core's store (fault-points.ts) so
// the child kills itself there. Sometimes a second child is killed while it recovers. Then
// the parent re-inits over the same home and checks, against the journal:
//   - every listed layer is complete and holds exactly what its finished operations made;
//   - the operation cut short left its layer in its old or its new state, or (create,
//     applyDiff, remove) gone: never half-applied, never listed when incomplete;
//   - no record is left in an unfinished state, no mount reference is left counted;
//   - nothing is leaked: the target's own check (subvolumes, datasets, temp dirs...) and,
//     after cleanup, nothing mounted under the home;
//   - every leftover can be removed (often, all layers are removed and the store is empty).
// Everything is drawn from one seed: a failure names the seed and run that reproduce it.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTempName } from '../linux/atomic-temp.js';
import type { Driver } from '../driver.js';
import { isGraphDriverError, ErrorCode } from '../errors.js';
import { FAULT_POINTS } from '../store/fault-points.js';
import type { JournalLine } from './crash-child.js';
import {
  applyModel,
  diffModels,
  pick,
  randInt,
  readTreeModel,
  rng,
  sameModel,
  type ChildConfig,
  type CrashOp,
  type TreeModel,
} from './crash-model.js';
import { removeTree } from './fixtures.js';
import { assertNothingMountedUnder } from './mounts.js';

/**
 * A driver set up for crash campaigns ({@link describeCrashSafety}, {@link runCrashCampaign}):
 * children open it from its built module and are killed at random moments and fault points;
 * this process re-opens it after each kill and checks the store.
 */
export interface CrashTarget {
  /** Names the suite and the saved report ("vfs on ext4"). */
  name: string;
  /** A fresh, empty home for one campaign. */
  makeHome(): Promise<string>;
  /** Init options for `home` (the child passes the same ones). */
  options?(home: string): string[];
  /** Initialise the driver in this process (the parent's re-init after each crash). */
  init(home: string, options: string[]): Promise<Driver>;
  /** Absolute path of the driver package's built entry (dist/index.js), for the child. */
  driverModule: string;
  /** Its export that is the InitFunc (default "init"). */
  initExport?: string;
  /**
   * After recovery, with `layers` listed: throws when the backing store holds anything else
   * (a subvolume, dataset, device, directory or temporary name that is no listed layer).
   */
  assertNoLeaks?(home: string, layers: readonly string[]): Promise<void>;
  /** After cleanup: nothing mounted or active (default: no mount under home). */
  assertNothingMounted?(home: string): Promise<void>;
  /** Deletes a home after its campaign (default: rm -rf, opening read-only directories first). */
  removeHome?(home: string): Promise<void>;
  /** Size factor of the generated layer tars (default 1: up to a few MiB each). */
  tarScale?: number;
}

/** How long and how {@link runCrashCampaign} runs. */
export interface CampaignOptions {
  /** Seeds the plans and kill times: the same seed replays the same campaign. */
  seed: number;
  /** How many children are run and killed. */
  runs: number;
  /** Most operations in one child's plan (default 6). */
  maxOps?: number;
  /** Progress lines (one per run with a failure, and a summary). */
  log?: (line: string) => void;
  /** A child that takes longer than this is killed and counted as a hang (default 120 s). */
  childTimeoutMs?: number;
  /**
   * The parent's re-init and check of one run may take this long (default 10 min); past it
   * the backing store is taken as hung (a wedged FUSE daemon, say) and the campaign stops.
   */
  checkTimeoutMs?: number;
}

/** What one crash campaign did and found; `failures` empty means every invariant held. */
export interface CampaignReport {
  /** The target's name. */
  driver: string;
  /** The seed that replays it. */
  seed: number;
  /** Runs done (fewer than asked only if the backing store hung). */
  runs: number;
  /** Children killed while running (by a timer or at a fault point). */
  faultsInjected: number;
  /** The kills, by how they were made. */
  faultsByKind: {
    /** Killed by a timer at a random moment. */
    timer: number;
    /** Killed on reaching a named fault point. */
    point: number;
    /** Killed again while recovering from the previous kill. */
    recovery: number;
  };
  /** Fault points that fired, by name. */
  pointsHit: Record<string, number>;
  /** Children that ran their whole plan before any kill. */
  completedPlans: number;
  /** Children run again because they could not load their modules (never reached the store). */
  childRestarts: number;
  /** Operations the children journalled as finished (each then checked to have survived). */
  operationsFinished: number;
  /** Checks made on the re-opened stores. */
  invariantsChecked: number;
  /** One line per broken invariant, naming seed and run to replay it. */
  failures: string[];
  /** Wall time of the campaign. */
  durationMs: number;
}

interface LayerModel {
  parent: string | null;
  rw: boolean;
  tree: TreeModel;
}
type Model = Map<string, LayerModel>;

/** The parent's knowledge of an operation that was cut short: what its layer may look like. */
type Ambiguity =
  | { op: 'create'; id: string; layer: LayerModel }
  | { op: 'applyDiff'; id: string; before: TreeModel; after: TreeModel }
  | { op: 'remove'; id: string };

/** dist/testing/crash-child.js of this package (the child must be plain JavaScript). */
export function crashChildScript(): string {
  const pkg = createRequire(import.meta.url).resolve('@graphdriver/core/package.json');
  return join(dirname(pkg), 'dist', 'testing', 'crash-child.js');
}

class Fail extends Error {}
class HungCheck extends Error {}

/** Counts the invariants checked, and turns a false one into a failure naming it. */
class Checker {
  count = 0;
  check(ok: boolean, what: string): void {
    this.count++;
    if (!ok) throw new Fail(what);
  }
}

const childrenOf = (m: Model, id: string) => [...m].filter(([, l]) => l.parent === id).map(([k]) => k);

/** A random plan valid against `model` if every operation succeeds. */
function makePlan(r: () => number, model: Model, run: number, maxOps: number): CrashOp[] {
  const sim = new Map([...model].map(([k, v]) => [k, v.parent] as const));
  const leaves = () => [...sim.keys()].filter((id) => ![...sim.values()].includes(id));
  const ops: CrashOp[] = [];
  const n = randInt(r, 1, maxOps);
  for (let k = 0; k < n; k++) {
    const x = r();
    const ids = [...sim.keys()];
    const crowded = sim.size >= 8;
    if (x < (crowded ? 0.15 : 0.45)) {
      const id = `r${run}-${k}`;
      const parent = ids.length && r() < 0.7 ? pick(r, ids) : null;
      ops.push({ op: r() < 0.3 ? 'createReadWrite' : 'create', id, parent });
      sim.set(id, parent);
    } else if (x < (crowded ? 0.45 : 0.8) && leaves().length) {
      ops.push({ op: 'applyDiff', id: pick(r, leaves()), seed: (r() * 2 ** 31) >>> 0 });
    } else if (x < 0.95 && leaves().length) {
      const id = pick(r, leaves());
      ops.push({ op: 'remove', id });
      sim.delete(id);
    } else {
      ops.push({ op: 'cleanup' });
    }
  }
  return ops;
}

/** Applies a finished operation to the model. */
function applyOp(model: Model, op: CrashOp, tarScale: number): void {
  if (op.op === 'create' || op.op === 'createReadWrite') {
    model.set(op.id, { parent: op.parent, rw: op.op === 'createReadWrite', tree: new Map(op.parent ? model.get(op.parent)!.tree : []) });
  } else if (op.op === 'applyDiff') {
    const l = model.get(op.id)!;
    l.tree = applyModel(l.tree, op.seed, tarScale);
  } else if (op.op === 'remove') {
    model.delete(op.id);
  }
}

function ambiguityOf(model: Model, op: CrashOp, tarScale: number): Ambiguity | undefined {
  if (op.op === 'create' || op.op === 'createReadWrite') {
    return {
      op: 'create',
      id: op.id,
      layer: { parent: op.parent, rw: op.op === 'createReadWrite', tree: new Map(op.parent ? model.get(op.parent)!.tree : []) },
    };
  }
  if (op.op === 'applyDiff') {
    const before = model.get(op.id)!.tree;
    return { op: 'applyDiff', id: op.id, before, after: applyModel(before, op.seed, tarScale) };
  }
  if (op.op === 'remove') return { op: 'remove', id: op.id };
  return undefined;
}

interface ChildResult {
  journal: JournalLine[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
  killedByTimer: boolean;
  hung: boolean;
  /** ms from "ready" to exit, when it ran to the end. */
  runMs?: number;
}

async function runChild(
  cfg: ChildConfig,
  cfgPath: string,
  fault: { point?: string; killAfterReadyMs?: number; killAfterSpawnMs?: number },
  timeoutMs: number,
  onReady?: () => void,
): Promise<ChildResult> {
  await writeFile(cfgPath, JSON.stringify(cfg));
  await writeFile(cfg.journal, '');
  const env = { ...process.env };
  delete env.GRAPHDRIVER_FAULT_POINT;
  if (fault.point) env.GRAPHDRIVER_FAULT_POINT = fault.point;
  // Its own process group, so that the tools it was running when it died (`zfs create`,
  // `cp`...) can be found: they finish their step (killing a zfs client mid-request can wedge
  // zfs-fuse's daemon) before the next init recovers the home, which would otherwise miss
  // what they make after it looked.
  const child = spawn(process.execPath, [crashChildScript(), cfgPath], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is already empty
    }
  };
  let stderr = '';
  let killedByTimer = false;
  let hung = false;
  let readyAt = 0;
  const timers: NodeJS.Timeout[] = [];
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) {
      killedByTimer = child.kill('SIGKILL');
    }
  };
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
  child.stdout.on('data', (c: Buffer) => {
    if (!readyAt && c.toString().includes('ready')) {
      readyAt = Date.now();
      onReady?.();
      if (fault.killAfterReadyMs !== undefined) timers.push(setTimeout(kill, fault.killAfterReadyMs));
    }
  });
  if (fault.killAfterSpawnMs !== undefined) timers.push(setTimeout(kill, fault.killAfterSpawnMs));
  timers.push(
    setTimeout(() => {
      hung = true;
      killGroup();
    }, timeoutMs),
  );
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  });
  // The dead child's tools finish (bounded; a hung one is killed) before anyone looks.
  for (const stop = Date.now() + 60_000; groupAlive() && Date.now() < stop; ) await new Promise((r) => setTimeout(r, 20));
  killGroup();
  const endedAt = Date.now();
  for (const t of timers) clearTimeout(t);
  const text = await readFile(cfg.journal, 'utf8');
  const journal = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalLine);
  const ended = journal.some((l) => l.ev === 'end');
  return {
    journal,
    signal,
    code,
    stderr,
    killedByTimer: killedByTimer && !ended,
    hung,
    runMs: ended && readyAt ? endedAt - readyAt : undefined,
  };
}

/**
 * Runs `ops` in a child process over `home` (no fault armed unless `point` is given) and
 * returns its journal: for tests that need a second process on the same home.
 */
export async function runInChild(
  target: CrashTarget,
  home: string,
  ops: CrashOp[],
  opts: { point?: string; killAfterReadyMs?: number; timeoutMs?: number; onReady?: () => void } = {},
): Promise<{ journal: JournalLine[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const work = await mkdtemp(join(tmpdir(), 'gd-child-'));
  try {
    const cfg: ChildConfig = {
      driverModule: target.driverModule,
      initExport: target.initExport,
      home,
      options: target.options?.(home) ?? [],
      journal: join(work, 'journal'),
      ops,
      tarScale: target.tarScale ?? 1,
    };
    const res = await runChild(cfg, join(work, 'config.json'), opts, opts.timeoutMs ?? 120_000, opts.onReady);
    if (res.hung) throw new Error(`child hung; stderr: ${res.stderr.slice(-2000)}`);
    return { journal: res.journal, code: res.code, signal: res.signal, stderr: res.stderr };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The child died loading its modules, before it opened the store. */
function notStarted(res: ChildResult): boolean {
  return (
    (res.code === 1 || res.code === 5) &&
    res.journal.length === 0 &&
    /ERR_MODULE_NOT_FOUND|Cannot find module|cjs\/loader|esm\/resolve/.test(res.stderr)
  );
}

/**
 * Runs one seeded campaign on a fresh home and reports; it does not throw on failures (they
 * are in the report). Needs the driver and core built (the child runs their dist). The home is
 * removed at the end.
 */
export async function runCrashCampaign(target: CrashTarget, opts: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const maxOps = opts.maxOps ?? 6;
  const tarScale = target.tarScale ?? 1;
  const timeoutMs = opts.childTimeoutMs ?? 120_000;
  const log = opts.log ?? (() => {});
  const report: CampaignReport = {
    driver: target.name,
    seed: opts.seed,
    runs: 0,
    faultsInjected: 0,
    faultsByKind: { timer: 0, point: 0, recovery: 0 },
    pointsHit: {},
    completedPlans: 0,
    childRestarts: 0,
    operationsFinished: 0,
    invariantsChecked: 0,
    failures: [],
    durationMs: 0,
  };
  const checker = new Checker();
  const work = await mkdir(join(tmpdir(), `gd-crash-${process.pid}-${opts.seed}`), { recursive: true }).then(() =>
    join(tmpdir(), `gd-crash-${process.pid}-${opts.seed}`),
  );
  let home = await target.makeHome();
  const options = () => target.options?.(home) ?? [];
  let model: Model = new Map();
  let hung = false;
  /** ms from ready to the end of a whole plan, averaged: where timer kills are aimed. */
  let planMs = 400;
  let initMs = 300;

  try {
    for (let run = 0; run < opts.runs; run++) {
      const r = rng((opts.seed * 1_000_003 + run * 7919) >>> 0);
      const plan = makePlan(r, model, run, maxOps);
      const mode = r();
      const fault =
        mode < 0.55
          ? { killAfterReadyMs: Math.floor(r() * planMs * 1.1) }
          : mode < 0.92
            ? { point: `${pick(r, FAULT_POINTS)}#${randInt(r, 1, 3)}` }
            : {};
      const recoveryCrash = r() < 0.15;
      const recoveryFault =
        r() < 0.5
          ? { killAfterSpawnMs: Math.floor(r() * initMs * 1.3) }
          : {
              point: `${pick(r, ['recover:swept', 'recover:backend', 'lock:written', 'atomic:written', 'cleanup:unmounted'])}#${randInt(r, 1, 2)}`,
            };
      const where = `${target.name} seed=${opts.seed} run=${run}`;
      report.runs++;
      try {
        const cfg: ChildConfig = {
          driverModule: target.driverModule,
          initExport: target.initExport,
          home,
          options: options(),
          journal: join(work, 'journal'),
          ops: plan,
          tarScale,
        };
        const spawnedAt = Date.now();
        let res = await runChild(cfg, join(work, 'config.json'), fault, timeoutMs);
        // A child that could not even load its modules (a build rewriting dist/ meanwhile, as
        // happens while others work in the same checkout) never touched the store: run it again.
        for (let retry = 0; retry < 3 && notStarted(res); retry++) {
          report.childRestarts++;
          await new Promise((r) => setTimeout(r, 3000));
          res = await runChild(cfg, join(work, 'config.json'), fault, timeoutMs);
        }
        if (res.hung) throw new Fail(`child hung (over ${timeoutMs} ms); stderr: ${res.stderr.slice(-2000)}`);
        const ready = res.journal.some((l) => l.ev === 'ready');
        if (res.runMs !== undefined) {
          planMs = planMs * 0.7 + res.runMs * 0.3;
          report.completedPlans++;
        }
        if (res.signal === 'SIGKILL') {
          report.faultsInjected++;
          // a timer that fired between the child's last journal line and its exit is still a timer
          if (res.killedByTimer || !fault.point) report.faultsByKind.timer++;
          else {
            report.faultsByKind.point++;
            const name = fault.point?.split('#')[0] ?? 'unknown';
            report.pointsHit[name] = (report.pointsHit[name] ?? 0) + 1;
          }
        } else {
          const failed = res.journal.find((l) => l.ev === 'fail');
          if (failed || res.code !== 0) {
            throw new Fail(
              `child failed (exit ${res.code}) at op ${failed?.i} ${JSON.stringify(plan[failed?.i ?? -1])}: ` +
                `${failed?.code ?? ''} ${failed?.message ?? res.stderr.slice(-2000)}`,
            );
          }
        }
        if (ready && res.runMs === undefined && res.signal === null) initMs = initMs * 0.7 + (Date.now() - spawnedAt) * 0.3;

        // what the journal proves, and the one operation that may or may not have happened
        const done = new Set(res.journal.filter((l) => l.ev === 'done').map((l) => l.i!));
        const begun = res.journal.filter((l) => l.ev === 'begin').map((l) => l.i!);
        let ambiguity: Ambiguity | undefined;
        for (const i of begun) {
          if (done.has(i)) {
            applyOp(model, plan[i], tarScale);
            report.operationsFinished++;
          } else {
            ambiguity = ambiguityOf(model, plan[i], tarScale);
          }
        }

        if (recoveryCrash) {
          const res2 = await runChild({ ...cfg, ops: [] }, join(work, 'config.json'), recoveryFault, timeoutMs);
          if (res2.hung) throw new Fail(`recovering child hung; stderr: ${res2.stderr.slice(-2000)}`);
          if (res2.signal === 'SIGKILL') {
            report.faultsInjected++;
            report.faultsByKind.recovery++;
            if (!res2.killedByTimer && recoveryFault.point) {
              const name = recoveryFault.point?.split('#')[0] ?? 'unknown';
              report.pointsHit[name] = (report.pointsHit[name] ?? 0) + 1;
            }
          } else if (res2.code !== 0) {
            throw new Fail(
              `recovering child failed (exit ${res2.code}): ${res2.stderr.slice(-2000)} ${JSON.stringify(res2.journal.at(-1))}`,
            );
          }
        }

        let timer: NodeJS.Timeout | undefined;
        const checkMs = opts.checkTimeoutMs ?? 600_000;
        model = await Promise.race([
          verify(target, home, options(), model, ambiguity, checker, r),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new HungCheck(`the re-init and check did not end within ${checkMs} ms: the backing store does not answer`)),
              checkMs,
            );
          }),
        ]).finally(() => clearTimeout(timer));
      } catch (err) {
        const msg = `${where}: ${err instanceof Fail || err instanceof HungCheck ? err.message : String((err as Error)?.stack ?? err)}`;
        report.failures.push(msg);
        log(`FAIL ${msg}`);
        // a call into the store is stuck in this process: nothing after it would mean anything
        if (err instanceof HungCheck) {
          hung = true;
          break;
        }
        // start over on a fresh home so one failure does not hide the next
        await (target.removeHome ?? removeTree)(home).catch(() => {});
        home = await target.makeHome();
        model = new Map();
      }
    }
  } finally {
    if (hung) report.failures.push(`${home} is left behind: the backing store hung`);
    else await (target.removeHome ?? removeTree)(home).catch((err) => report.failures.push(`removing the home: ${String(err)}`));
    await rm(work, { recursive: true, force: true });
  }
  report.invariantsChecked = checker.count;
  report.durationMs = Date.now() - started;
  log(
    `${target.name}: ${report.runs} runs, ${report.faultsInjected} faults (${report.faultsByKind.timer} timer, ` +
      `${report.faultsByKind.point} fault point, ${report.faultsByKind.recovery} during recovery), ` +
      `${report.invariantsChecked} invariants, ${report.failures.length} failures`,
  );
  return report;
}

/** Re-inits over `home`, checks every invariant, maybe removes everything, cleans up. */
async function verify(
  target: CrashTarget,
  home: string,
  options: string[],
  model: Model,
  ambiguity: Ambiguity | undefined,
  c: Checker,
  r: () => number,
): Promise<Model> {
  const driver = await target.init(home, options);
  let cleaned = false;
  try {
    const listed = await driver.list();
    const listedSet = new Set(listed);
    const next: Model = new Map();
    const ambiguousId = ambiguity?.id;

    // nothing listed that no finished or cut-short operation made
    for (const id of listed) c.check(model.has(id) || id === ambiguousId, `layer ${id} is listed but was never created`);

    for (const [id, layer] of model) {
      if (id === ambiguousId) continue;
      c.check(listedSet.has(id), `layer ${id} (created, never removed) is not listed`);
      c.check(await driver.exists(id), `exists(${id}) is false`);
      await checkLayer(driver, id, [layer.tree], c);
      next.set(id, layer);
    }

    if (ambiguity) {
      const id = ambiguity.id;
      const present = listedSet.has(id);
      c.check((await driver.exists(id)) === present, `exists(${id}) disagrees with list()`);
      if (present) {
        if (ambiguity.op === 'create') {
          await checkLayer(driver, id, [ambiguity.layer.tree], c);
          next.set(id, ambiguity.layer);
        } else if (ambiguity.op === 'applyDiff') {
          const which = await checkLayer(
            driver,
            id,
            [ambiguity.before, ambiguity.after],
            c,
            'neither as before nor as after the cut-short applyDiff',
          );
          next.set(id, { ...model.get(id)!, tree: which === 0 ? ambiguity.before : ambiguity.after });
        } else {
          await checkLayer(driver, id, [model.get(id)!.tree], c);
          next.set(id, model.get(id)!);
        }
      } else if (ambiguity.op !== 'create') {
        // a layer that goes must not leave children behind
        c.check(childrenOf(model, id).length === 0, `layer ${id} went away but had children`);
      }
    }

    // every record is finished and unreferenced; nothing unlisted is half there
    for (const id of [...model.keys(), ...(ambiguousId ? [ambiguousId] : [])]) {
      const rec = driver.record?.(id);
      if (listedSet.has(id)) {
        c.check(rec?.state === 'complete', `layer ${id} is listed with state ${rec?.state}`);
        c.check(rec?.mounts === 0, `layer ${id} has ${rec?.mounts} mount references after a restart with none taken`);
        c.check(rec?.parent === next.get(id)?.parent, `layer ${id} has parent ${rec?.parent}, expected ${next.get(id)?.parent}`);
      } else {
        c.check(rec === undefined, `layer ${id} is not listed but has a record (state ${rec?.state})`);
        const meta = await driver.getMetadata(id).then(
          () => 'found',
          (err: unknown) => (isGraphDriverError(err, ErrorCode.LayerNotFound) ? 'not found' : String(err)),
        );
        c.check(meta === 'not found', `getMetadata(${id}) of a layer that is gone: ${meta}`);
      }
    }

    await checkRecordsDir(home, listed, c);
    if (target.assertNoLeaks) {
      try {
        await target.assertNoLeaks(home, listed);
      } finally {
        c.count++;
      }
    }

    // every leftover can be removed: often all of them, children first
    if (r() < 0.25 || next.size > 10) {
      const order = removalOrder(next);
      for (const id of order) {
        await driver.remove(id);
        c.check(!(await driver.exists(id)), `${id} still exists after remove`);
      }
      c.check((await driver.list()).length === 0, `layers left after removing all: ${(await driver.list()).join(', ')}`);
      await checkRecordsDir(home, [], c);
      if (target.assertNoLeaks) {
        await target.assertNoLeaks(home, []);
        c.count++;
      }
      next.clear();
    }

    await driver.cleanup();
    cleaned = true;
    await (target.assertNothingMounted ?? assertNothingMountedUnder)(home);
    c.count++;
    const top = await readdir(home);
    c.check(!top.includes('lock'), 'the home lock is still there after cleanup');
    c.check(!top.some((n) => n.startsWith('.lock-')), `temporary lock files left: ${top.filter((n) => n.startsWith('.lock-')).join(', ')}`);
    return next;
  } finally {
    if (!cleaned) await driver.cleanup().catch(() => {});
  }
}

/** Gets the layer and compares its tree with each candidate; returns which one matched. */
async function checkLayer(driver: Driver, id: string, candidates: TreeModel[], c: Checker, what = 'not as expected'): Promise<number> {
  const root = await driver.get(id);
  let actual: TreeModel;
  try {
    actual = await readTreeModel(root);
  } finally {
    await driver.put(id);
  }
  const which = candidates.findIndex((t) => sameModel(t, actual));
  c.check(which >= 0, `layer ${id} is ${what}: ${diffModels(candidates[candidates.length - 1], actual)}`);
  return which;
}

/** home/layers holds one record per listed layer and no temporary file. */
async function checkRecordsDir(home: string, listed: readonly string[], c: Checker): Promise<void> {
  const names = (await readdir(join(home, 'layers'))).sort();
  const stray = names.filter(isTempName);
  c.check(stray.length === 0, `temporary record files left: ${stray.join(', ')}`);
  c.check(names.length === listed.length, `home/layers has ${names.length} records for ${listed.length} layers: ${names.join(', ')}`);
}

function removalOrder(model: Model): string[] {
  const depth = (id: string): number => {
    let d = 0;
    for (let p = model.get(id)?.parent ?? null; p; p = model.get(p)?.parent ?? null) d++;
    return d;
  };
  return [...model.keys()].sort((a, b) => depth(b) - depth(a));
}

/** Runs from the environment: GRAPHDRIVER_CRASH_RUNS / GRAPHDRIVER_CRASH_SEED (soak), else the CI defaults. */
export function campaignSettings(
  defaultRuns: number,
  defaultSeed = 1,
): {
  /** Runs to do. */
  runs: number;
  /** Seed to start from. */
  seed: number;
} {
  const runs = Number(process.env.GRAPHDRIVER_CRASH_RUNS) || defaultRuns;
  const seed = Number(process.env.GRAPHDRIVER_CRASH_SEED) || defaultSeed;
  return { runs, seed };
}

/** Writes a campaign's report to $GRAPHDRIVER_SOAK_REPORTS/<kind>-<name>.json when that is set. */
export async function saveReport(kind: string, name: string, report: object): Promise<void> {
  const dir = process.env.GRAPHDRIVER_SOAK_REPORTS;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${kind}-${name.replace(/[^\w.-]+/g, '_')}.json`), JSON.stringify(report, null, 2));
}

/**
 * The crash campaign as a vitest test: `runs` seeded runs (30 by default, more under
 * `pnpm soak`), failing with every broken invariant and the seed/run that reproduces it.
 */
export function describeCrashSafety(target: CrashTarget, opts: { runs?: number; seed?: number } = {}): void {
  const { runs, seed } = campaignSettings(opts.runs ?? 30, opts.seed ?? 1);
  describe(`crash safety: ${target.name}`, () => {
    it(
      `${runs} runs killed at random points (seed ${seed}) leave a consistent, leak-free, removable store`,
      async () => {
        const report = await runCrashCampaign(target, { seed, runs, log: (l) => console.log(`[crash] ${l}`) });
        await saveReport('crash', target.name, report);
        expect(report.failures, report.failures.join('\n')).toEqual([]);
        expect(report.runs).toBe(runs);
        // a campaign that never killed anything proves nothing
        expect(report.faultsInjected).toBeGreaterThanOrEqual(Math.ceil(runs / 5));
      },
      Math.max(300_000, runs * 20_000),
    );
  });
}
