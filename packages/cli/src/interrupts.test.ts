// Interrupts release what they took (issue 15): real CLI processes, real signals, a real
// vfs store. A reader that closes stdout early, Ctrl-C during export, SIGTERM during an
// apply, and a storm of signals at random moments across apply, export, diff and mount,
// after each of which the store holds no reference, no temporary file and no half layer.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchInterrupts } from './interrupts.js';
import { BIN, runCli, runJson, spawnCli } from './test-support/run-cli.js';
import { temporaries, vfsRecords } from './test-support/store-files.js';
import { waitUntil } from './test-support/wait.js';

let work: string;
let root: string;
let layerTar: string;
const g = () => ['--root', root, '--driver', 'vfs'];

interface Listed {
  id: string;
  mounts: number;
}

/** A tree of a few hundred files and one of 4 MiB (so a diff is more than a pipe holds), tarred. */
async function makeLayerTar(): Promise<string> {
  const src = join(work, 'src');
  for (let d = 0; d < 8; d++) {
    await mkdir(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 40; f++) await writeFile(join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`.repeat(20));
  }
  await writeFile(join(src, 'big'), execFileSync('head', ['-c', String(4 << 20), '/dev/urandom'], { maxBuffer: 8 << 20 }));
  const tar = join(work, 'layer.tar');
  execFileSync('tar', ['--numeric-owner', '-cf', tar, '-C', src, '.']);
  return tar;
}

/**
 * Nothing counted, nothing leased, and every record complete, but for layers `halfApplied`
 * allows to be left 'applying' (never listed, swept by the next open of the store).
 */
async function expectNothingHeld(halfApplied: (id: string) => boolean = () => false): Promise<void> {
  for (const rec of (await vfsRecords(root)).values()) {
    expect(rec.mounts, `references of ${rec.id}`).toBe(0);
    expect(rec.leases, `leases of ${rec.id}`).toBeUndefined();
    if (rec.state !== 'complete') expect([rec.id, rec.state]).toEqual([rec.id, halfApplied(rec.id) ? 'applying' : 'complete']);
  }
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the package first (pnpm turbo run build)`);
  work = await mkdtemp(join(tmpdir(), 'gd-interrupts-'));
  root = join(work, 'root');
  layerTar = await makeLayerTar();
  expect((await runCli([...g(), 'create', 'base'])).status).toBe(0);
  expect((await runCli([...g(), 'apply', 'base', layerTar])).status).toBe(0);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('a reader that closes stdout early', () => {
  it('`diff base | head -c 100`: status 1, one line, and the layer holds no reference (rm works)', async () => {
    await runCli([...g(), 'create', 'victim', '--parent', 'base']);
    await runCli([...g(), 'apply', 'victim', layerTar]);
    const run = spawnCli([...g(), 'diff', 'victim', '--parent', '']);
    let got = 0;
    await new Promise<void>((resolve) => {
      run.child.stdout.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= 100) {
          run.child.stdout.destroy(); // as head -c 100 does: read 100 bytes, close the pipe
          resolve();
        }
      });
    });
    const r = await run.result;
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^graphdriver: ERR_STDOUT_CLOSED: /)]);
    await expectNothingHeld();
    const listed = await runJson<Listed[]>([...g(), 'ls']);
    expect(listed.find((l) => l.id === 'victim')?.mounts).toBe(0);
    expect((await runCli([...g(), 'rm', 'victim'])).status).toBe(0);
  });
});

describe('Ctrl-C and SIGTERM in the middle of an operation', () => {
  it('SIGINT while export writes a blob: 130, one line, the .tmp- blob removed, no reference', async () => {
    const layout = join(work, 'oci-ctrl-c');
    const run = spawnCli([...g(), 'export', 'base', `oci:${layout}`]);
    const blobs = join(layout, 'blobs', 'sha256');
    await waitUntil('export writing a blob', async () => (await temporaries(blobs)).length > 0);
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.status).toBe(130);
    expect(r.stderr).toBe('graphdriver: ERR_INTERRUPTED: interrupted by SIGINT\n');
    expect(await temporaries(layout)).toEqual([]);
    await expectNothingHeld();
  });

  it('SIGTERM while apply reads stdin: 143, the layer never listed and swept at the next open', async () => {
    expect((await runCli([...g(), 'create', 'half'])).status).toBe(0);
    const run = spawnCli([...g(), 'apply', 'half', '-']);
    const tar = execFileSync('cat', [layerTar], { maxBuffer: 64 << 20 });
    run.child.stdin.write(tar.subarray(0, tar.length >> 1)); // half of it, then nothing
    await waitUntil('apply starting', async () => (await vfsRecords(root)).get('half')?.state === 'applying');
    run.child.kill('SIGTERM');
    const r = await run.result;
    expect(r.status).toBe(143);
    expect(r.stderr).toBe('graphdriver: ERR_INTERRUPTED: interrupted by SIGTERM\n');
    await expectNothingHeld((id) => id === 'half');
    const listed = await runJson<Listed[]>([...g(), 'ls']);
    expect(listed.map((l) => l.id)).not.toContain('half');
    expect((await vfsRecords(root)).has('half')).toBe(false); // that open swept it
    expect(existsSync(join(root, 'vfs', 'dir', 'half'))).toBe(false);
  });
});

describe('the point of no return', () => {
  it('a signal before commit() interrupts; one after it leaves the result standing', () => {
    const before = watchInterrupts();
    try {
      process.emit('SIGTERM');
      expect(before.signal.aborted).toBe(true);
      expect(before.commit()).toBe(false);
      expect(before.interruption?.status).toBe(143);
    } finally {
      before.dispose();
    }
    const after = watchInterrupts();
    try {
      expect(after.commit()).toBe(true);
      process.emit('SIGINT');
      expect(after.signal.aborted).toBe(false);
      expect(after.interruption).toBeUndefined();
    } finally {
      after.dispose();
    }
  });
});

describe('signals at random moments', () => {
  it('120+ rounds across apply, export, diff and mount: 0 mounts, no temporaries, rm works', { timeout: 1_800_000 }, async () => {
    // a seeded generator, so a failing round can be replayed
    let seed = Number(process.env.GD_SIGNAL_SEED ?? Date.now() % 100_000);
    console.log(`[signals] seed ${seed} (GD_SIGNAL_SEED to replay)`);
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    // Each signal lands somewhere in the CLI's own start (~ the time of an `ls`) or its work.
    // How long each command takes varies with the machine's load, so the aim adapts per
    // operation: a command that finished first is hit sooner next time, one killed before it
    // watched signals later; the storm goes on until every operation was interrupted at work
    // often enough (at least 120 rounds).
    const t0 = Date.now();
    await runCli([...g(), 'ls']);
    const startup = Date.now() - t0;
    const layout = join(work, 'oci-storm');
    const outcomes: Record<string, number> = {};
    const applied: string[] = [];
    const ops = ['apply', 'export', 'diff', 'mount'] as const;
    const aim: Record<string, number> = Object.fromEntries(ops.map((op) => [op, startup + 100]));
    const interrupted = (op: string) => outcomes[`${op}: interrupted`] ?? 0;
    for (let round = 0; round < 120 || (round < 480 && ops.some((op) => interrupted(op) < 8)); round++) {
      const op = ops[round % ops.length];
      const sig = random() < 0.5 ? 'SIGINT' : 'SIGTERM';
      const delay = Math.round(aim[op] * (0.6 + 0.8 * random()));
      const id = `a${round}`;
      if (op === 'apply') expect((await runCli([...g(), 'create', id, '--parent', 'base'])).status).toBe(0);
      const args = {
        apply: ['apply', id, layerTar],
        export: ['export', 'base', `oci:${layout}`],
        diff: ['diff', 'base', '-o', join(work, 'out.tar')],
        mount: ['mount', 'base'],
      }[op];
      const run = spawnCli([...g(), ...args]);
      await sleep(delay);
      run.child.kill(sig);
      const r = await run.result;
      const what = `round ${round}: ${op} killed by ${sig} after ${delay} ms: status ${r.status}, ${r.stderr}`;
      let outcome: string;
      if (r.signal) {
        outcome = 'before the CLI watched signals'; // killed by the default action while node started
        aim[op] *= 1.2;
      } else if (r.status === 0) {
        outcome = 'finished first';
        aim[op] *= 0.85;
        if (op === 'mount') {
          const unmount = await runCli([...g(), 'unmount', 'base']); // the user's reference
          expect(unmount.status, `${what}; unmount: ${unmount.stderr}`).toBe(0);
        }
        if (op === 'apply') applied.push(id);
      } else {
        outcome = 'interrupted';
        expect(r.status, what).toBe(sig === 'SIGINT' ? 130 : 143);
        expect(r.stderr, what).toBe(`graphdriver: ERR_INTERRUPTED: interrupted by ${sig}\n`);
        if (op === 'apply' && (await vfsRecords(root)).get(id)?.state === 'complete') applied.push(id); // done just before
      }
      outcomes[`${op}: ${outcome}`] = (outcomes[`${op}: ${outcome}`] ?? 0) + 1;
      await expectNothingHeld((x) => /^a\d+$/.test(x));
      expect(await temporaries(layout), what).toEqual([]);
      expect(await temporaries(join(root, 'vfs')), what).toEqual([]);
      expect(await temporaries(work), what).toEqual([]);
    }
    console.log('[signals] outcomes', outcomes);
    // the storm did hit commands at work, in every operation
    for (const op of ops) expect(interrupted(op), `${op} rounds interrupted`).toBeGreaterThanOrEqual(8);

    // listed: exactly the complete layers (applied, or never reached by a killed apply); the
    // half-applied ones never, and the open of that ls sweeps them
    const records = [...(await vfsRecords(root)).values()];
    const complete = records.filter((r) => r.state === 'complete').map((r) => r.id);
    const listed = await runJson<Listed[]>([...g(), 'ls']);
    expect(listed.every((l) => l.mounts === 0)).toBe(true);
    expect(listed.map((l) => l.id).sort()).toEqual(complete.sort());
    expect(complete).toEqual(expect.arrayContaining(['base', ...applied]));
    expect([...(await vfsRecords(root)).values()].every((r) => r.state === 'complete')).toBe(true);
    expect((await runCli([...g(), 'check'])).status).toBe(0);
    const rm = await runCli([...g(), 'rm', ...complete]);
    expect(rm.status, rm.stderr).toBe(0);
    expect(await runJson<Listed[]>([...g(), 'ls'])).toEqual([]);
  });
});
