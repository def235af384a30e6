// The hostile tarball corpus (testing/hostile-tars.ts) straight through readTar and
// applyLayer, heavy cases included (100 000 tiny entries with flat memory): typed outcome,
// nothing outside dest, memory bounded. And device and fifo entries applied by an
// unprivileged process: skipped or refused, typed, never a crash. Each driver runs the same
// corpus through its applyDiff in its robustness test (describeHostileInput).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGraphDriverError } from '../errors.js';
import { requireBackingSystem } from '../testing/backing-system.js';
import { readTar } from '../tar/reader.js';
import { readTreeModel, sameModel, diffModels, type TreeModel } from '../testing/crash-model.js';
import { peakRssGrowth } from '../testing/hostile.js';
import { DEFAULT_HOSTILE_CODES, hostileTars } from '../testing/hostile-tars.js';
import { applyLayer } from './apply.js';

const run = promisify(execFile);
let work = '';
let sentinel = '';
let sentinelTree: TreeModel;
beforeAll(async () => {
  work = await fs.promises.mkdtemp(join(tmpdir(), 'gd-corpus-'));
  sentinel = join(work, 'sentinel');
  fs.mkdirSync(join(sentinel, 'etc'), { recursive: true });
  fs.writeFileSync(join(sentinel, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.symlinkSync('etc/passwd', join(sentinel, 'link'));
  sentinelTree = await readTreeModel(sentinel);
});
afterAll(async () => {
  if (work) await run('rm', ['-rf', '--one-file-system', work]);
});

async function* stream(chunks: Iterable<Buffer> | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* chunks;
}

const outcome = (err: unknown) => (isGraphDriverError(err) ? err.code : `untyped: ${String((err as Error)?.stack ?? err)}`);

describe('hostile corpus through readTar and applyLayer', () => {
  let n = 0;
  for (const c of hostileTars()) {
    it(`${c.name}: ${c.why}`, async () => {
      const codes = c.codes ?? DEFAULT_HOSTILE_CODES;
      // the reader alone: bodies consumed, typed outcome, bounded memory
      const read = await peakRssGrowth(async () => {
        try {
          for await (const e of readTar(stream(c.chunks()))) for await (const _ of e.body) void _;
          return 'ok';
        } catch (err) {
          return outcome(err);
        }
      });
      expect(['ok', ...codes], `readTar: ${read.value}`).toContain(read.value);
      expect(read.growth).toBeLessThan(c.memoryBound ?? 256 << 20);

      const dest = join(work, `d${++n}`, 'dest');
      fs.mkdirSync(dest, { recursive: true });
      const applied = await peakRssGrowth(() => applyLayer(dest, stream(c.chunks())).then(() => 'ok', outcome));
      if (c.expect === 'applied') expect(applied.value).toBe('ok');
      if (c.expect === 'refused') expect(applied.value).not.toBe('ok');
      expect(['ok', ...codes], `applyLayer: ${applied.value}`).toContain(applied.value);
      expect(applied.growth, `grew by ${applied.growth} bytes`).toBeLessThan(c.memoryBound ?? 256 << 20);
      expect(fs.readdirSync(join(work, `d${n}`))).toEqual(['dest']);
      // refused: rolled back, nothing of the archive left in the layer
      if (applied.value !== 'ok') expect(fs.readdirSync(dest)).toEqual([]);
      const now = await readTreeModel(sentinel);
      expect(sameModel(sentinelTree, now), diffModels(sentinelTree, now)).toBe(true);
      await run('rm', ['-rf', '--one-file-system', join(work, `d${n}`)]);
    }, 300_000);
  }
});

const canDropPrivileges = requireBackingSystem(
  '[hostile corpus] the unprivileged device/fifo case',
  process.getuid?.() === 0 && fs.existsSync('/usr/bin/setpriv') ? null : 'needs root and setpriv',
);

describe.runIf(canDropPrivileges)('device and fifo entries as a non-root user', () => {
  it('are skipped or refused with a typed error (ignoreChownErrors: as rootless), never created as devices', async () => {
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const testing = fileURLToPath(new URL('../../dist/testing.js', import.meta.url));
    const dir = join(work, 'unpriv');
    fs.mkdirSync(dir, { mode: 0o777 });
    fs.chmodSync(work, 0o755);
    fs.chmodSync(dir, 0o777);
    const script = `
      const { applyLayer } = await import(${JSON.stringify(dist)});
      const { hostileTars } = await import(${JSON.stringify(testing)});
      const c = hostileTars().find((h) => h.name === 'devices-and-fifos');
      async function* s() { yield* c.chunks(); }
      const results = {};
      for (const ignoreChownErrors of [true, false]) {
        try { await applyLayer(${JSON.stringify(dir)} + '/dest-' + ignoreChownErrors, s(), { ignoreChownErrors }); results[ignoreChownErrors] = 'ok'; }
        catch (e) { results[ignoreChownErrors] = (e && e.name === 'GraphDriverError') ? e.code : 'untyped ' + String(e && e.stack || e); }
      }
      console.log(JSON.stringify(results));
    `;
    const { stdout } = await run('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ]);
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    for (const [mode, r] of Object.entries(results)) {
      expect(['ok', 'ERR_UNSUPPORTED_ENTRY', 'ERR_UNSAFE_ENTRY'], `ignoreChownErrors=${mode}: ${r}`).toContain(r);
    }
    // no device node was made by the unprivileged user
    for (const d of fs.readdirSync(dir)) {
      for (const name of ['kmem', 'sda', 'bigdev']) {
        const st = fs.lstatSync(join(dir, d, name), { throwIfNoEntry: false });
        expect(st === undefined || (!st.isCharacterDevice() && !st.isBlockDevice()), `${d}/${name}`).toBe(true);
      }
    }
  });
});
