// Host side of the OpenZFS suite: this kernel cannot load modules, so OpenZFS runs in the qemu
// VM with Debian's kernel (tools/vm). tools/vm/openzfs/build builds (or finds in its cache) the
// modules for the VM's kernel and the userland; the VM runs src/*.vmtest.ts with them.
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const pkg = resolve(import.meta.dirname, '..');
const inVm = process.env.GRAPHDRIVER_IN_VM === '1';

/** Runs a command, echoing its output as it comes (these take minutes), and keeps it. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    let out = '';
    const keep = (b: Buffer) => {
      out += b.toString();
      process.stdout.write(b);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('close', (status) => done({ status, out }));
  });
}

describe.skipIf(inVm)('zfs driver on OpenZFS (in the VM)', () => {
  it('passes its OpenZFS suite inside the VM', async () => {
    const canVm = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0;
    if (!canVm) {
      const why = 'the OpenZFS suite did NOT run: it needs root and qemu-system-x86_64 (bash tools/setup/install.sh)';
      console.warn(`\n*** ${why} ***\n`);
      if (process.env.CI) throw new Error(why);
      return;
    }
    // A fresh build (apt downloads, kernel headers, zfs configure + make) takes 5-20 min.
    const build = spawnSync(resolve(repo, 'tools/vm/openzfs/build'), [], { encoding: 'utf8', timeout: 3_600_000 });
    expect(build.status, `tools/vm/openzfs/build failed:\n${build.stderr}`).toBe(0);
    const kit = build.stdout.trim();

    const vitest = resolve(repo, 'node_modules/vitest/vitest.mjs');
    const r = await run(
      resolve(repo, 'tools/vm/run'),
      [
        '--timeout', '3000', '--mem', '3072', '-e', `GRAPHDRIVER_OPENZFS=${kit}`, '--',
        process.execPath, vitest, 'run', '--root', pkg, '--config', resolve(pkg, 'vitest.vm.config.ts'),
      ],
      3_300_000,
    );
    const out = r.out.replace(/\x1b\[[0-9;]*m/g, ''); // vitest colours its summary even into a file
    expect(r.status, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/Tests\s+\d+ passed/);
    expect(out).not.toMatch(/\d+ (failed|skipped)/);
  }, 7_200_000);
});
