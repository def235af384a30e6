import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { StoreLock } from './store-lock.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'gd-lock-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('StoreLock', () => {
  it('is exclusive within a process and reusable after release', async () => {
    const a = await StoreLock.acquire(home);
    await expect(StoreLock.acquire(home)).rejects.toMatchObject({ code: ErrorCode.StoreBusy });
    await a.release();
    const b = await StoreLock.acquire(home);
    await b.release();
  });

  it('refuses while another live process holds it, with a clear message', async () => {
    // A real second process holding the lock file, written the way StoreLock writes it.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      await writeFile(join(home, 'lock'), `${child.pid} ${start}\n`);
      const err = await StoreLock.acquire(home).catch((e) => e);
      expect(err.code).toBe(ErrorCode.StoreBusy);
      expect(err.message).toMatch(new RegExp(`store is busy: .* in use by process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over the lock of a dead owner, or of a recycled pid', async () => {
    await writeFile(join(home, 'lock'), `999999999 1\n`);
    const a = await StoreLock.acquire(home);
    await a.release();
    // our own pid but another start time: a previous process that had the same pid
    await writeFile(join(home, 'lock'), `${process.pid} 1\n`);
    const b = await StoreLock.acquire(home);
    await b.release();
  });
});
