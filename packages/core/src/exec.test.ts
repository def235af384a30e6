// A long-running process (a daemon) must not depend on when it first shells out: once
// @graphdriver/core is loaded, tool() resolves no further module. A process that resolved
// execa late failed when node_modules no longer answered the way it did at start-up
// (issue 16, item 8); here resolution is refused outright after the import, and the first
// tool() calls must still work.
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const coreEntry = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;

// After core is loaded, every module resolution fails as a re-linked node_modules would.
const refuseEverything = `export async function resolve(specifier) {
  throw Object.assign(new Error('resolution after start-up: ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
}`;

const child = `
import { register } from 'node:module';
const { tool } = await import(process.env.CORE_ENTRY);
register('data:text/javascript,' + encodeURIComponent(process.env.REFUSE_HOOK));
const t = tool('true');
await t.run([]);
const available = await t.available([]);
console.log(JSON.stringify({ ran: true, available }));
`;

describe('tool() in a long-running process', () => {
  it('shells out without resolving any module after core was loaded', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child], {
      env: { ...process.env, CORE_ENTRY: coreEntry, REFUSE_HOOK: refuseEverything },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '')).toEqual({ ran: true, available: true });
  });
});

// run() is child_process.spawn plus collection: what a driver relies on, on real programs.
describe('tool().run', () => {
  it('returns stdout and stderr whole, trailing newline kept, with input, env and cwd', async () => {
    const { tool } = await import('./exec.js');
    const sh = tool('sh', { env: { GD_EXEC_TEST: 'from-env' } });
    const r = await sh.run(['-c', 'cat; printf "%s\\n" "$GD_EXEC_TEST" "$PWD" "$(test -n "$PATH" && echo path-kept)"; echo warn >&2'], {
      input: 'from-stdin\n',
      cwd: '/tmp',
    });
    expect(r).toEqual({ stdout: 'from-stdin\nfrom-env\n/tmp\npath-kept\n', stderr: 'warn\n' });
  });

  it('a non-zero exit is a ToolError with the status and stderr', async () => {
    const { tool, ToolError } = await import('./exec.js');
    const err = await tool('sh')
      .run(['-c', 'echo bad thing >&2; exit 3'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ code: 'ERR_TOOL_FAILED', exitCode: 3, stderr: 'bad thing\n', args: ['-c', 'echo bad thing >&2; exit 3'] });
    expect((err as Error).message).toBe('sh -c echo bad thing >&2; exit 3: exited 3: bad thing');
  });

  it('a silent failure still says why; a missing program could not run and is not available', async () => {
    const { tool } = await import('./exec.js');
    await expect(tool('false').run([])).rejects.toMatchObject({ exitCode: 1, message: 'false: exited 1: exit code 1' });
    const missing = tool('graphdriver-no-such-program');
    await expect(missing.run(['x'])).rejects.toMatchObject({ code: 'ERR_TOOL_FAILED', exitCode: undefined });
    await expect(missing.available()).resolves.toBe(false);
    // ran, disliked the probe: it exists
    await expect(tool('false').available([])).resolves.toBe(true);
  });

  it('a timeout kills the program and rejects without exit code', async () => {
    const { tool } = await import('./exec.js');
    const t0 = Date.now();
    const err = await tool('sleep')
      .run(['30'], { timeout: 200 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_TOOL_FAILED', exitCode: undefined, stderr: 'timed out after 200 ms' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a program that exits without reading its input is not an error', async () => {
    const { tool } = await import('./exec.js');
    await expect(tool('true').run([], { input: Buffer.alloc(4 << 20) })).resolves.toEqual({ stdout: '', stderr: '' });
  });
});

// Every fresh process (the CLI, a script) pays for what importing core loads: execa is bundled
// into the build (tsup noExternal), so core loads its own files and Node's, not execa's ~140
// modules (issue 18).
describe('importing @graphdriver/core', () => {
  it('resolves only its own files and @napi-rs/xattr', async () => {
    const count = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, n) { const r = await n(s, c); if (!r.url.startsWith("node:")) console.error("RESOLVED " + r.url); return r; }'));
await import(process.env.CORE_ENTRY);`;
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', count], {
      env: { ...process.env, CORE_ENTRY: coreEntry },
    });
    const urls = stderr
      .split('\n')
      .filter((l) => l.startsWith('RESOLVED '))
      .map((l) => l.slice(9));
    expect(urls.length).toBeGreaterThan(0);
    const foreign = urls.filter((u) => !u.startsWith(new URL('.', coreEntry).href) && !u.includes('/@napi-rs/'));
    expect(foreign).toEqual([]);
  });
});
