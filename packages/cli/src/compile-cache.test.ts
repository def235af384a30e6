// The CLI asks Node for its on-disk compile cache where Node has one (>= 22.1): it must
// never cost a command its success, whatever the cache directory is like.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { enableCompileCache } from './compile-cache.js';
import { runCli } from './test-support/run-cli.js';
import { version } from './version.js';

const nodeHasIt = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';
const scratch = mkdtempSync(join(tmpdir(), 'gd-compile-cache-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Every file under dir, recursively (Node keeps one subdirectory per Node/V8 version).
const filesUnder = (dir: string): string[] => {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
  } catch {
    return [];
  }
};

describe(`the compile cache (Node ${process.version}: ${nodeHasIt ? 'has' : 'has no'} module.enableCompileCache)`, () => {
  it('is on where Node has it, and a no-op without a throw where it does not', () => {
    // In this (vitest) process: Node >= 22.1 gives a directory, Node 20 undefined.
    const dir = enableCompileCache();
    if (nodeHasIt) expect(dir).toEqual(expect.any(String));
    else expect(dir).toBeUndefined();
  });

  it('the CLI fills the cache where Node has one, and runs the same from it', async () => {
    const cache = join(scratch, 'cache');
    const first = await runCli(['--version'], { env: { NODE_COMPILE_CACHE: cache } });
    expect(first).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });
    // Node 22 writes the compiled code of the CLI's modules; Node 20 writes nothing.
    if (nodeHasIt) expect(filesUnder(cache).length).toBeGreaterThan(0);
    else expect(filesUnder(cache)).toEqual([]);
    const second = await runCli(['--version'], { env: { NODE_COMPILE_CACHE: cache } });
    expect(second).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('an unusable cache directory costs nothing: same output, no warning', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a directory');
    const r = await runCli(['--version'], { env: { NODE_COMPILE_CACHE: join(file, 'cache') } });
    expect(r).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('NODE_DISABLE_COMPILE_CACHE keeps the cache directory empty', async () => {
    const cache = join(scratch, 'disabled');
    const r = await runCli(['--version'], { env: { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(r).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });
    expect(filesUnder(cache)).toEqual([]);
  });
});
