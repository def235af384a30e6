// One driver instance owns a home at a time. The lock file names the owner's pid and its
// start time (so a recycled pid is not mistaken for the owner); a dead owner's lock is taken over.
//
// Race-free between two processes: the lock file only ever appears whole (written under a
// temporary name, then link(2)ed into place, which fails when a lock exists), and a stale
// lock is taken over by renaming it aside and checking that what was moved is the stale
// lock that was judged dead; a live lock moved aside by mistake is linked straight back.
import { link, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCode, GraphDriverError } from '../errors.js';
import { faultPoint } from './fault-points.js';

const heldInProcess = new Set<string>();

/** Prefix of the lock's temporary and moved-aside names in the home. */
const SIDE_PREFIX = '.lock-';

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

/** The lock and its temporary names: the home lock's own files, not data of the home. */
export function isLockFileName(name: string): boolean {
  return name === 'lock' || name.startsWith(SIDE_PREFIX);
}

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

export class StoreLock {
  private constructor(readonly path: string) {}

  static async acquire(home: string): Promise<StoreLock> {
    const path = join(home, 'lock');
    const me = `${process.pid} ${processStartTime(process.pid)}\n`;
    const busy = (owner: string) =>
      new GraphDriverError(ErrorCode.StoreBusy, `store is busy: ${home} is in use by process ${owner.split(' ')[0]}`);
    if (heldInProcess.has(path)) throw busy(String(process.pid));
    const side = () => join(home, `${SIDE_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const tmp = side();
      await writeFile(tmp, me, { mode: 0o600 });
      faultPoint('lock:written');
      try {
        await link(tmp, path);
        heldInProcess.add(path);
        await unlink(tmp).catch(() => {});
        await removeDeadSideFiles(home);
        return new StoreLock(path);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        if (code(err) !== 'EEXIST') throw err;
      }
      const owner = await readFile(path, 'utf8').catch(() => null);
      if (owner === null) continue; // released meanwhile: try again
      if (ownerAlive(owner)) throw busy(owner);
      // stale: its owner died without releasing it. Move it aside, then make sure the
      // file moved is the one judged dead (another process may have taken over first).
      const aside = side();
      try {
        await rename(path, aside);
      } catch (err) {
        if (code(err) === 'ENOENT') continue;
        throw err;
      }
      const moved = await readFile(aside, 'utf8').catch(() => '');
      if (moved !== owner && ownerAlive(moved)) {
        // a live owner's lock: put it back (link fails only if a third process got in)
        await link(aside, path).catch(() => {});
        await unlink(aside).catch(() => {});
        throw busy(moved);
      }
      await unlink(aside).catch(() => {});
    }
    throw busy('unknown');
  }

  async release(): Promise<void> {
    heldInProcess.delete(this.path);
    await unlink(this.path).catch(() => {});
  }
}

/** Temporary lock names left by processes that died between writing and linking them. */
async function removeDeadSideFiles(home: string): Promise<void> {
  for (const name of await readdir(home).catch(() => [] as string[])) {
    if (!name.startsWith(SIDE_PREFIX)) continue;
    const pid = Number(name.slice(SIDE_PREFIX.length).split('-')[0]);
    if (pid !== process.pid && processStartTime(pid) === null) await unlink(join(home, name)).catch(() => {});
  }
}
