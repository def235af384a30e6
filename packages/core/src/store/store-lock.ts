// One driver instance owns a home at a time. The lock file names the owner's pid and its
// start time (so a recycled pid is not mistaken for the owner); a dead owner's lock is taken over.
import { open, readFile, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, GraphDriverError } from '../errors.js';

const heldInProcess = new Set<string>();

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 22 (starttime), counted after the parenthesised command name
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(content: string): boolean {
  const [pidText, start] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const actual = processStartTime(pid);
  return actual !== null && actual === start;
}

export class StoreLock {
  private constructor(readonly path: string) {}

  static async acquire(home: string): Promise<StoreLock> {
    const path = join(home, 'lock');
    const me = `${process.pid} ${processStartTime(process.pid)}\n`;
    const busy = (owner: string) =>
      new GraphDriverError(ErrorCode.StoreBusy, `store is busy: ${home} is in use by process ${owner.split(' ')[0]}`);
    if (heldInProcess.has(path)) throw busy(String(process.pid));
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(path, 'wx', 0o600);
        await fh.writeFile(me);
        await fh.close();
        heldInProcess.add(path);
        return new StoreLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = await readFile(path, 'utf8').catch(() => '');
      if (owner && ownerAlive(owner)) throw busy(owner);
      // stale: its owner died without releasing it
      await unlink(path).catch(() => {});
    }
    throw busy('unknown');
  }

  async release(): Promise<void> {
    heldInProcess.delete(this.path);
    await unlink(this.path).catch(() => {});
  }
}
