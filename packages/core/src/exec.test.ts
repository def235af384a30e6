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

// The build carries execa inside it (tsup noExternal): a fresh process loads one file, not
// execa's ~150 ES modules (issue 18). Bare specifiers other than Node's own and core's native
// xattr binding are refused from the start.
const refusePackages = `import { isBuiltin } from 'node:module';
export async function resolve(specifier, context, next) {
  const bare = !isBuiltin(specifier) && !/^(data:|file:|\\.|\\/)/.test(specifier);
  if (bare && !specifier.startsWith('@napi-rs/xattr')) {
    throw Object.assign(new Error('package resolved at load: ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}`;

const bundledChild = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(process.env.REFUSE_HOOK));
const { tool } = await import(process.env.CORE_ENTRY);
await tool('true').run([]);
console.log(JSON.stringify({ ran: true }));
`;

describe('tool() in a long-running process', () => {
  it('loads and shells out without resolving execa or any other package', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', bundledChild], {
      env: { ...process.env, CORE_ENTRY: coreEntry, REFUSE_HOOK: refusePackages },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '')).toEqual({ ran: true });
  });

  it('shells out without resolving any module after core was loaded', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', child], {
      env: { ...process.env, CORE_ENTRY: coreEntry, REFUSE_HOOK: refuseEverything },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '')).toEqual({ ran: true, available: true });
  });
});
