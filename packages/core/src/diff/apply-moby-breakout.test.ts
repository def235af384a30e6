// moby's own breakout tables (pkg/archive archive_test.go and diff_test.go, moby 20.10),
// ported case by case: each `describe` is named after the moby test its headers come from.
// moby's harness (utils_test.go testBreakout) extracts into tmp/dest beside tmp/victim/hello
// and accepts a run when victim is untouched and nothing in dest reads victim/hello. Ours
// asks more: the archive is refused with ERR_UNSAFE_ENTRY naming the offending entry (or,
// for the two cases that stay inside, applied there), and a refused archive leaves dest
// exactly as it was, both when dest was empty and when it held a lower layer's content
// (names the archive replaces included). Where moby-archive-bench (Docker's own
// ApplyUncompressedLayer) is installed, each case is also run through it to confirm that
// Docker reports the breakout the table says it does.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isGraphDriverError } from '../errors.js';
import { END_OF_ARCHIVE } from '../tar/writer.js';
import type { TarHeader } from '../tar/types.js';
import { entry } from '../testing/hostile-tars.js';
import { linksLeadingOut } from '../testing/link-audit.js';
import { requireReference } from '../testing/reference-tools.js';
import { tmpDir } from '../test-support/apply-fixtures.js';
import { snapshotTree } from '../testing/fixtures.js';
import { applyLayer } from './apply.js';
import { run } from '../test-support/trees.js';

// Without the peer (tools/peer) or the corpus this fails under CI and warns elsewhere.
const peer = requireReference('peer', "moby breakout tables (Docker's outcomes NOT confirmed)");
const corpus = requireReference('corpus', "diff/apply-moby-breakout.test.ts's Debian corpus case");

type H = { name: string; type: 'file' | 'symlink' | 'hardlink'; linkname?: string; mode: number };
const reg = (name: string): H => ({ name, type: 'file', mode: 0o644 });
const sym = (name: string, linkname: string, mode = 0o644): H => ({ name, type: 'symlink', linkname, mode });
const lnk = (name: string, linkname: string, mode = 0o644): H => ({ name, type: 'hardlink', linkname, mode });

interface Case {
  /** moby's comment on the case. */
  what: string;
  headers: H[];
  /** Our outcome: refused (code, entry named), or applied inside dest. */
  ours: { refused: string; code?: string } | 'applied';
  /** Docker's outcome (moby-archive-bench apply): a breakout error, another error, or applied. */
  docker: 'breakout' | 'error' | 'applied';
}

// TestUntarInvalidHardlink and TestApplyLayerInvalidHardlink share this table.
const invalidHardlink: Case[] = [
  { what: 'try reading victim/hello (../)', headers: [lnk('dotdot', '../victim/hello')], ours: { refused: 'dotdot' }, docker: 'breakout' },
  {
    what: 'try reading victim/hello (/../)',
    headers: [lnk('slash-dotdot', '/../victim/hello')],
    ours: { refused: 'slash-dotdot' },
    docker: 'breakout',
  },
  {
    what: 'try writing victim/file',
    headers: [lnk('loophole-victim', '../victim', 0o755), reg('loophole-victim/file')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
  {
    what: 'try reading victim/hello (hardlink, symlink)',
    headers: [lnk('loophole-victim', '../victim', 0o755), sym('symlink', 'loophole-victim/hello')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
  {
    what: 'Try reading victim/hello (hardlink, hardlink)',
    headers: [lnk('loophole-victim', '../victim', 0o755), lnk('hardlink', 'loophole-victim/hello')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
  {
    what: 'Try removing victim directory (hardlink)',
    headers: [lnk('loophole-victim', '../victim', 0o755), reg('loophole-victim')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
];

// TestUntarInvalidSymlink; TestApplyLayerInvalidSymlink is the same but for the last case.
const invalidSymlink: Case[] = [
  { what: 'try reading victim/hello (../)', headers: [sym('dotdot', '../victim/hello')], ours: { refused: 'dotdot' }, docker: 'breakout' },
  {
    what: 'try reading victim/hello (/../): an absolute target climbing above "/"',
    headers: [sym('slash-dotdot', '/../victim/hello')],
    ours: { refused: 'slash-dotdot' },
    docker: 'breakout',
  },
  {
    what: 'try writing victim/file',
    headers: [sym('loophole-victim', '../victim', 0o755), reg('loophole-victim/file')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
  {
    what: 'try reading victim/hello (symlink, symlink)',
    headers: [sym('loophole-victim', '../victim', 0o755), sym('symlink', 'loophole-victim/hello')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
  {
    what: 'try reading victim/hello (symlink, hardlink)',
    headers: [sym('loophole-victim', '../victim', 0o755), lnk('hardlink', 'loophole-victim/hello')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
  {
    what: 'try removing victim directory (symlink)',
    headers: [sym('loophole-victim', '../victim', 0o755), reg('loophole-victim')],
    ours: { refused: 'loophole-victim' },
    docker: 'breakout',
  },
];
const symlinkInPath: Case = {
  what: 'try writing to victim/newdir/newfile with a symlink in the path',
  headers: [sym('dir/loophole', '../../victim', 0o755), reg('dir/loophole/newdir/newfile')],
  ours: { refused: 'dir/loophole' },
  docker: 'breakout',
};

// TestUntarInvalidFilenames and TestApplyLayerInvalidFilenames.
const invalidFilenames: Case[] = [
  { what: '../victim/dotdot', headers: [reg('../victim/dotdot')], ours: { refused: '../victim/dotdot' }, docker: 'breakout' },
  // Go's Clean("/../victim/slash-dotdot") is "/victim/slash-dotdot": a name inside dest.
  {
    what: 'leading slash: /../victim/slash-dotdot lands in dest/victim',
    headers: [reg('/../victim/slash-dotdot')],
    ours: 'applied',
    docker: 'applied',
  },
];

// TestUntarHardlinkToSymlink: benign, must apply (symlink2 is a second name of symlink1).
const hardlinkToSymlink: Case[] = [
  {
    what: 'a hardlink to a symlink links the symlink',
    headers: [sym('symlink1', 'regfile'), lnk('symlink2', 'symlink1'), reg('regfile')],
    ours: 'applied',
    docker: 'applied',
  },
];

// Not moby's: archives Docker applies (its check compares string prefixes, and lexically,
// one link at a time) that leave a link leading out of the layer; refused here.
const beyondDocker: Case[] = [
  {
    what: 'a symlink to ../dest-evil beside the root dest (passes strings.HasPrefix)',
    headers: [sym('evil', '../dest-evil/hello')],
    ours: { refused: 'evil' },
    docker: 'applied',
  },
  {
    what: 'two links each inside on paper that lead out together (top -> d1/d2/up/.., up -> ../..)',
    headers: [sym('top', 'd1/d2/up/..'), sym('d1/d2/up', '../..')],
    ours: { refused: 'top' },
    docker: 'applied',
  },
];

const tables: Array<[string, Case[]]> = [
  ['TestUntarInvalidFilenames', invalidFilenames],
  ['TestApplyLayerInvalidFilenames', invalidFilenames],
  ['TestUntarInvalidHardlink', invalidHardlink],
  ['TestApplyLayerInvalidHardlink', invalidHardlink],
  ['TestUntarInvalidSymlink', [...invalidSymlink, symlinkInPath]],
  ['TestApplyLayerInvalidSymlink', invalidSymlink],
  ['TestUntarHardlinkToSymlink', hardlinkToSymlink],
  ['beyond Docker (not a moby test)', beyondDocker],
];

function tarOf(headers: H[]): Buffer {
  return Buffer.concat([
    ...headers.map((h) =>
      entry({ name: h.name, type: h.type, linkname: h.linkname, mode: h.mode, mtime: 1_700_000_000 } as Partial<TarHeader> & {
        name: string;
      }),
    ),
    END_OF_ARCHIVE,
  ]);
}

/** A lower layer's content, with names the archives replace (so a rollback must restore them). */
function lowerLayer(dest: string): void {
  fs.mkdirSync(join(dest, 'etc'));
  fs.writeFileSync(join(dest, 'etc', 'hostname'), 'lower\n');
  fs.writeFileSync(join(dest, 'loophole-victim'), 'lower file\n');
  fs.writeFileSync(join(dest, 'dotdot'), 'lower dotdot\n');
  fs.linkSync(join(dest, 'dotdot'), join(dest, 'etc', 'dotdot-link'));
  fs.mkdirSync(join(dest, 'dir'));
  fs.symlinkSync('../etc/hostname', join(dest, 'dir', 'rel'));
  fs.utimesSync(join(dest, 'dir'), 1_600_000_000.123, 1_600_000_000.123);
}

let work = '';
let n = 0;
beforeAll(async () => {
  work = await tmpDir('gd-moby-breakout-');
});
afterAll(async () => {
  if (work) await fs.promises.rm(work, { recursive: true, force: true });
});

/** moby's testBreakout scene: tmp/dest and tmp/victim/hello (a unique content). */
function scene(withLower: boolean): { dest: string; victim: string; hello: string } {
  const tmp = join(work, `t${++n}`);
  const dest = join(tmp, 'dest');
  const victim = join(tmp, 'victim');
  fs.mkdirSync(dest, { recursive: true });
  fs.mkdirSync(victim);
  const hello = `${new Date().toISOString()} ${n}`;
  fs.writeFileSync(join(victim, 'hello'), hello);
  if (withLower) lowerLayer(dest);
  return { dest, victim, hello };
}

/** moby's checks: victim holds only hello, unchanged; nothing in dest reads victim/hello. */
function expectNoBreakout(s: { dest: string; victim: string; hello: string }): void {
  expect(fs.readdirSync(s.victim)).toEqual(['hello']);
  expect(fs.readFileSync(join(s.victim, 'hello'), 'utf8')).toBe(s.hello);
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        let data: string | undefined;
        try {
          data = fs.readFileSync(p, 'utf8'); // follows links, as moby's check does
        } catch {
          data = undefined;
        }
        expect(data, `${p} reads victim/hello`).not.toBe(s.hello);
      }
    }
  };
  walk(s.dest);
}

for (const [mobyTest, cases] of tables) {
  describe(mobyTest, () => {
    cases.forEach((c, i) => {
      for (const withLower of [false, true]) {
        it(`i=${i}. ${c.what} (${withLower ? 'onto a lower layer' : 'fresh layer'})`, async () => {
          const s = scene(withLower);
          const before = await snapshotTree(s.dest, { symlinkXattrs: true });
          const tar = tarOf(c.headers);
          let err: unknown;
          try {
            await applyLayer(s.dest, Readable.from([tar]));
          } catch (e) {
            err = e;
          }
          expectNoBreakout(s);
          if (c.ours === 'applied') {
            expect(err).toBeUndefined();
          } else {
            expect(isGraphDriverError(err), String(err)).toBe(true);
            const e = err as { code: string; message: string };
            expect(e.code, e.message).toBe(c.ours.code ?? ErrorCode.UnsafeEntry);
            expect(e.message).toContain(JSON.stringify(c.ours.refused));
            expect(await snapshotTree(s.dest, { symlinkXattrs: true })).toEqual(before);
          }

          if (!peer || withLower) return;
          // The same archive through Docker's ApplyUncompressedLayer, in a scene of its own.
          const d = scene(false);
          const file = join(work, `t${n}.tar`);
          fs.writeFileSync(file, tar);
          const r = run(peer, ['apply', d.dest, file]);
          const docker = r.status === 0 ? 'applied' : /invalid (sym|hard)link|is outside of/.test(r.stderr) ? 'breakout' : 'error';
          expect(docker, r.stderr).toBe(c.docker);
        });
      }
    });
  });
}

// Benign: a real Debian root (built by tools/setup) holds thousands of relative symlinks
// that stay inside; it applies, and none of its links leads out.
const CORPUS_TAR = corpus === null ? '' : join(corpus, 'base.tar');
describe.runIf(corpus !== null)('benign: the Debian corpus (base.tar)', () => {
  it('applies, with its relative symlinks, and no link in the result leads out', async () => {
    const dest = join(work, 'debian');
    await applyLayer(dest, fs.createReadStream(CORPUS_TAR));
    expect(linksLeadingOut(dest)).toEqual([]);
    let relative = 0;
    const stack = [dest];
    while (stack.length) {
      const d = stack.pop() as string;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) stack.push(join(d, e.name));
        else if (e.isSymbolicLink() && !fs.readlinkSync(join(d, e.name)).startsWith('/')) relative++;
      }
    }
    expect(relative).toBeGreaterThan(100);
    await fs.promises.rm(dest, { recursive: true, force: true });
  }, 300_000);
});
