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
