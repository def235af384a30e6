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
import { linksLeadingOut } from '../testing/link-audit.js';
import { snapshotTree } from '../testing/fixtures.js';
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
      let message = '';
      const applied = await peakRssGrowth(() =>
        applyLayer(dest, stream(c.chunks())).then(
          () => 'ok',
          (err: unknown) => {
            message = String((err as Error)?.message);
            return outcome(err);
          },
        ),
      );
      if (c.expect === 'applied') expect(applied.value).toBe('ok');
      if (c.expect === 'refused') expect(applied.value).not.toBe('ok');
      expect(['ok', ...codes], `applyLayer: ${applied.value}`).toContain(applied.value);
      if (c.entry !== undefined) expect(message, 'the refusal names the entry to blame').toContain(JSON.stringify(c.entry));
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

// The link rule in every whiteout form (the overlay driver's native apply writes its upper
// dir in the 'overlay' form: whiteouts become 0/0 devices, opaque markers an xattr), onto a
// lower layer's content whose names the archives replace, whiteout and make opaque: each
// link-out case is refused naming its entry, and dest is left exactly as it was.
describe('link-out cases in every whiteout form, onto existing content: refused and rolled back exactly', () => {
  const lower = (dest: string) => {
    for (const d of ['etc', 'd', 'dir', 'a/b']) fs.mkdirSync(join(dest, d), { recursive: true });
    fs.writeFileSync(join(dest, 'etc', 'zz'), 'lower zz\n');
    fs.writeFileSync(join(dest, 'etc', 'gone'), 'lower gone\n');
    fs.writeFileSync(join(dest, 'd', 'old'), 'old\n');
    fs.writeFileSync(join(dest, 'loophole'), 'a lower file of that name\n');
    fs.symlinkSync('../etc/zz', join(dest, 'dir', 'rel'));
    fs.utimesSync(join(dest, 'etc'), 1_600_000_000, 1_600_000_000);
  };
  const cases = hostileTars().filter((c) => c.name.startsWith('link-out-'));
  let n = 0;
  for (const form of ['remove', 'overlay', 'overlay-files'] as const) {
    for (const c of cases) {
      it(`${form}: ${c.name}`, async () => {
        const dest = join(work, `wf${++n}`, 'dest');
        fs.mkdirSync(dest, { recursive: true });
        lower(dest);
        const before = await snapshotTree(dest, { symlinkXattrs: true });
        const err = await applyLayer(dest, stream(c.chunks()), { whiteoutFormat: form }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(outcome(err)).toBe('ERR_UNSAFE_ENTRY');
        expect((err as Error).message).toContain(JSON.stringify(c.entry));
        expect(await snapshotTree(dest, { symlinkXattrs: true })).toEqual(before);
        expect(linksLeadingOut(dest)).toEqual([]);
        expect(fs.readdirSync(join(work, `wf${n}`))).toEqual(['dest']);
        const now = await readTreeModel(sentinel);
        expect(sameModel(sentinelTree, now), diffModels(sentinelTree, now)).toBe(true);
      });
    }
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
