// Interop with Docker's own code (moby 20.10 pkg/archive, built as moby-archive-bench from
// tools/peer) and with GNU tar, on generated trees holding every kind of entry and
// on the Debian corpus (tools/corpus):
//   - our change count and size equal Docker's;
//   - our whole-tree tar and our layer diff are Docker's bytes, mode fields with their
//     file-type bits included (but for the whiteouts' times, which are "now");
//   - our diff applied by Docker, and Docker's diff applied by us, rebuild the upper tree
//     exactly (0 changes, as both Docker and we count them);
//   - GNU tar lists and extracts our archives without a word on stderr.
// Without the peer or the corpus (tools/setup/install.sh builds both) the suite fails under
// CI and is skipped with a warning elsewhere (requireReference).
import {
  appendFileSync,
  chmodSync,
  chownSync,
  createReadStream,
  createWriteStream,
  existsSync,
  linkSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatChange } from '../driver.js';
import { applyLayer } from './apply.js';
import { changesDirs } from './changes.js';
import { exportChanges, exportChangesToFile, tarDirectory, tarDirectoryToFile } from './export.js';
import { blankWhiteoutTimes } from '../testing/whiteout-times.js';
import { changesSize } from './size.js';
import { requireReference } from '../testing/reference-tools.js';
import { missingPrograms, requireBackingSystem } from '../testing/backing-system.js';
import { T0, capV2, copyTree, dir, file, isRoot, mknod, mustRun, rmrf, run, settle, symlink, tmp, xattr } from '../test-support/trees.js';

const peer = requireReference('peer', 'diff/interop.test.ts (interop with Docker)');
const CORPUS = requireReference('corpus', "diff/interop.test.ts's Debian corpus cases");
// GNU tar must read what we write; without it, core's loud skip (CI fails)
const gnuTar = requireBackingSystem("diff/interop.test.ts's GNU tar cases", missingPrograms(['tar']));

interface PeerOut {
  op: string;
  changes?: number;
  bytes?: number;
  size?: number;
  ms: number;
}

function moby(...args: string[]): PeerOut {
  const r = mustRun(peer as string, args);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as PeerOut;
}

async function ourExport(upper: string, base: string, out: string): Promise<number> {
  const changes = await changesDirs(upper, base);
  await pipeline(exportChanges(upper, changes), createWriteStream(out));
  return changes.length;
}

async function ourTar(dir: string, out: string): Promise<void> {
  await pipeline(tarDirectory(dir), createWriteStream(out));
}

function expectSameArchive(ours: string, docker: string): void {
  const a = blankWhiteoutTimes(readFileSync(ours));
  const b = blankWhiteoutTimes(readFileSync(docker));
  if (!a.equals(b)) {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    const at = (buf: Buffer) => buf.toString('latin1', i - (i % 512), i - (i % 512) + 100).replace(/\0+$/, '');
    throw new Error(
      `archives differ at byte ${i} (block at ${i - (i % 512)}, ours ${JSON.stringify(at(a))}, docker ${JSON.stringify(at(b))}); sizes ${a.length} / ${b.length}`,
    );
  }
}

/** GNU tar must list and extract `archive` with nothing on stderr. */
function gnuTarAccepts(archive: string, scratch: string): void {
  const list = run('tar', ['-tvf', archive]);
  expect(list.status).toBe(0);
  expect(list.stderr).toBe('');
  const dest = join(scratch, `gnutar-${Math.random().toString(36).slice(2)}`);
  mustRun('mkdir', [dest]);
  const x = run('tar', ['--numeric-owner', '-xf', archive, '-C', dest]);
  expect(x.stderr).toBe('');
  expect(x.status).toBe(0);
  rmrf(dest);
}

/** Both Docker and we must find no change between `tree` and `upper`. */
async function expectSameTree(tree: string, upper: string): Promise<void> {
  expect((await changesDirs(tree, upper)).map(formatChange)).toEqual([]);
  expect(moby('changes', tree, upper).changes).toBe(0);
}

/**
 * Docker's applier loses the setuid/setgid bits of hardlinked files: it lchowns the second
 * name (which drops the bits of the shared inode) and then skips its chmod, because it
 * lstats the link target relative to its own working directory. Its own archives suffer
 * the same, so a tree unpacked by Docker is held to what Docker's own archive gives: the
 * same changes, and nothing but those files (and their parent directories).
 */
async function expectDockerApplied(tree: string, upper: string, reference: string): Promise<void> {
  const ours = (await changesDirs(tree, upper)).map(formatChange);
  const docker = (await changesDirs(reference, upper)).map(formatChange);
  expect(ours).toEqual(docker);
  expect(moby('changes', tree, upper).changes).toBe(moby('changes', reference, upper).changes);
  const quirk = docker.filter((c) => {
    const st = statSync(join(upper, c.slice(2)));
    return c.startsWith('C ') && (st.isDirectory() || (st.nlink > 1 && (st.mode & 0o6000) !== 0));
  });
  expect(docker).toEqual(quirk);
}

/** Base and upper trees with every kind of entry and change we know of. */
function makeTrees(root: string): { base: string; upper: string } {
  const base = join(root, 'base');
  file(base, 'etc/hostname', 'box\n');
  file(base, 'etc/motd', 'hello\n');
  file(base, 'etc/shadow', 'root:*:1::::::\n', { mode: 0o640 });
  file(base, 'usr/bin/tool', 'tool v1', { mode: 0o755 });
  file(base, 'usr/bin/su', 'su', { mode: 0o4755 });
  file(base, 'usr/share/doc/pkg/README', 'readme');
  file(base, 'usr/share/doc/pkg/changelog', 'changes');
  file(base, 'usr/share/man/man1/tool.1', 'man');
  file(base, 'f2d', 'becomes a directory');
  file(base, 'd2f/inner', 'goes away with its directory');
  file(base, 'l2f', 'placeholder');
  rmSync(join(base, 'l2f'));
  symlink(base, 'l2f', 'etc/motd');
  file(base, 'hl/one', 'shared inode');
  linkSync(join(base, 'hl/one'), join(base, 'hl/two'));
  dir(base, 'tmp', { mode: 0o1777 });
  dir(base, 'var/lib');
  if (isRoot) {
    mknod(base, 'dev/null', 'c', 1, 3, 0o666);
    mknod(base, 'dev/zero', 'c', 1, 5, 0o666);
    file(base, 'srv/owned', 'x', { uid: 1000, gid: 1000 });
  }
  settle(base);
  chmodSync(join(base, 'tmp'), 0o1777);

  const upper = join(root, 'upper');
  copyTree(base, upper);
  appendFileSync(join(upper, 'etc/motd'), 'welcome\n');
  chmodSync(join(upper, 'etc/hostname'), 0o600);
  rmSync(join(upper, 'etc/shadow'));
  rmSync(join(upper, 'usr/share/doc'), { recursive: true });
  rmSync(join(upper, 'usr/share/man/man1/tool.1'));
  writeFileSync(join(upper, 'usr/bin/tool'), 'tool v2!');
  file(upper, 'usr/bin/tool2', 'a new tool', { mode: 0o2755 });
  linkSync(join(upper, 'usr/bin/tool2'), join(upper, 'usr/bin/tool2-alias'));
  linkSync(join(upper, 'usr/bin/su'), join(upper, 'usr/bin/su-link')); // a new name for an unchanged file
  rmSync(join(upper, 'f2d'));
  file(upper, 'f2d/child', 'c');
  dir(upper, 'f2d/sub/deeper');
  rmSync(join(upper, 'd2f'), { recursive: true });
  file(upper, 'd2f', 'was a directory');
  rmSync(join(upper, 'l2f'));
  file(upper, 'l2f', 'was a symlink');
  writeFileSync(join(upper, 'hl/two'), 'both names change');
  symlink(upper, 'var/lib/app/current', '../../../usr/bin/tool2');
  symlink(upper, 'var/lib/app/long-target', `/${'t'.repeat(200)}`);
  const deep = `${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(90)}`;
  file(upper, `var/lib/app/${deep}/${'leaf'.repeat(30)}`, 'a long path');
  file(upper, 'var/lib/app/ünïcødé-ñame', 'utf-8 name');
  dir(upper, 'var/spool', { mode: 0o1730 });
  file(upper, 'var/lib/app/data.bin', Buffer.alloc(300_000, 7)); // thread-pool read path
  xattr(file(upper, 'var/lib/app/with-xattr', 'x'), 'user.comment', 'binary \u0000 ok');
  if (isRoot) {
    rmSync(join(upper, 'dev/zero'));
    mknod(upper, 'dev/zero', 'c', 1, 7, 0o666); // rdev changed
    mknod(upper, 'dev/sda', 'b', 8, 0, 0o660);
    mknod(upper, 'dev/sdz', 'b', 259, 65536, 0o600);
    mknod(upper, 'run/initctl', 'p', 0, 0, 0o600);
    chownSync(join(upper, 'srv/owned'), 1001, 1002);
    xattr(join(upper, 'usr/bin/tool2'), 'security.capability', capV2((1 << 13) | (1 << 10)));
  }
  // Times that survive a tar round trip: whole seconds, or a fraction in a second the
  // tar header keeps (Docker's sameFsTime accepts one side at 0 ns).
  utimesSync(join(upper, 'usr/bin/tool'), T0 + 30.25, T0 + 30.25);
  return { base, upper };
}

describe.runIf(peer)('interop with Docker (moby-archive-bench)', () => {
  let work: string;
  let base: string;
  let upper: string;
  beforeAll(() => {
    work = tmp('gd-interop-');
    ({ base, upper } = makeTrees(work));
  });
  afterAll(() => rmrf(work));

  it('counts the same changes and bytes as Docker, both ways and against nothing', async () => {
    for (const [n, o] of [
      [upper, base],
      [base, upper],
    ] as const) {
      const ours = await changesDirs(n, o);
      const docker = moby('size', n, o);
      expect(ours.length).toBe(docker.changes);
      expect(await changesSize(n, ours)).toBe(docker.bytes);
    }
    const all = await changesDirs(upper, null);
    const empty = join(work, 'empty');
    mustRun('mkdir', ['-p', empty]);
    expect(all.length).toBe(moby('changes', upper, empty).changes);
  });

  it("writes Docker's bytes for the whole-tree tar and for the layer diff, as a stream and into a file", async () => {
    // Docker only archives security.capability; with another xattr in the tree our headers
    // carry more records, so compare on a tree without them first...
    const plain = join(work, 'plain');
    copyTree(upper, plain);
    rmSync(join(plain, 'var/lib/app/with-xattr'));
    moby('tar', plain, join(work, 'moby-plain.tar'));
    await ourTar(plain, join(work, 'ours-plain.tar'));
    expectSameArchive(join(work, 'ours-plain.tar'), join(work, 'moby-plain.tar'));
    await tarDirectoryToFile(plain, join(work, 'ours-plain-file.tar'));
    expectSameArchive(join(work, 'ours-plain-file.tar'), join(work, 'moby-plain.tar'));

    const plainBase = join(work, 'plain-base');
    copyTree(base, plainBase);
    moby('export', plain, plainBase, join(work, 'moby-plain-diff.tar'));
    await ourExport(plain, plainBase, join(work, 'ours-plain-diff.tar'));
    expectSameArchive(join(work, 'ours-plain-diff.tar'), join(work, 'moby-plain-diff.tar'));
    await exportChangesToFile(plain, await changesDirs(plain, plainBase), join(work, 'ours-plain-diff-file.tar'));
    expectSameArchive(join(work, 'ours-plain-diff-file.tar'), join(work, 'moby-plain-diff.tar'));

    // ...and on the full tree the archives differ by exactly that one PAX header.
    await ourTar(upper, join(work, 'ours-tar.tar'));
    moby('tar', upper, join(work, 'moby-tar.tar'));
    const extra = statSync(join(work, 'ours-tar.tar')).size - statSync(join(work, 'moby-tar.tar')).size;
    expect(extra).toBe(1024);
    rmrf(plain);
    rmrf(plainBase);
  });

  it('our diff, applied by Docker onto the base, gives the upper tree back', async () => {
    const diff = join(work, 'ours-diff.tar');
    const n = await ourExport(upper, base, diff);
    expect(n).toBeGreaterThan(20);
    const tree = join(work, 'docker-applied');
    copyTree(base, tree);
    moby('apply', tree, diff);
    const mobyDiff = join(work, 'moby-diff-ref.tar');
    moby('export', upper, base, mobyDiff);
    const reference = join(work, 'docker-applied-ref');
    copyTree(base, reference);
    moby('apply', reference, mobyDiff);
    await expectDockerApplied(tree, upper, reference);
    expect(readFileSync(join(tree, 'var/lib/app/ünïcødé-ñame'), 'utf8')).toBe('utf-8 name');
    rmrf(tree);
    rmrf(reference);
  });

  it("Docker's diff, applied by us onto the base, gives the upper tree back", async () => {
    const diff = join(work, 'moby-diff.tar');
    moby('export', upper, base, diff);
    const tree = join(work, 'ours-applied');
    copyTree(base, tree);
    await applyLayer(tree, createReadStream(diff));
    await expectSameTree(tree, upper);
    rmrf(tree);
  });

  it('our whole-tree tar, applied by Docker into an empty dir, gives the tree back', async () => {
    const archive = join(work, 'ours-tar.tar');
    if (!existsSync(archive)) await ourTar(upper, archive);
    const tree = join(work, 'docker-from-scratch');
    mustRun('mkdir', [tree]);
    moby('apply', tree, archive);
    const mobyArchive = join(work, 'moby-tar-ref.tar');
    moby('tar', upper, mobyArchive);
    const reference = join(work, 'docker-from-scratch-ref');
    mustRun('mkdir', [reference]);
    moby('apply', reference, mobyArchive);
    await expectDockerApplied(tree, upper, reference);
    rmrf(tree);
    rmrf(reference);
  });

  it.runIf(gnuTar)('GNU tar lists and extracts our archives without a word', async () => {
    const diff = join(work, 'ours-diff2.tar');
    await ourExport(upper, base, diff);
    gnuTarAccepts(diff, work);
    const whole = join(work, 'ours-tar2.tar');
    await ourTar(upper, whole);
    gnuTarAccepts(whole, work);
  });

  describe.runIf(CORPUS !== null)(`on the Debian corpus (${CORPUS})`, () => {
    const cBase = `${CORPUS}/base`;
    const cUpper = `${CORPUS}/upper`;

    it('counts the same changes and bytes as Docker', async () => {
      const ours = await changesDirs(cUpper, cBase);
      const docker = moby('size', cUpper, cBase);
      expect(ours.length).toBe(docker.changes);
      expect(await changesSize(cUpper, ours)).toBe(docker.bytes);
    }, 300_000);

    it("writes Docker's bytes for Tar(base) and for the diff", async () => {
      await ourTar(cBase, join(work, 'c-ours-base.tar'));
      moby('tar', cBase, join(work, 'c-moby-base.tar'));
      expectSameArchive(join(work, 'c-ours-base.tar'), join(work, 'c-moby-base.tar'));
      if (gnuTar) expect(run('tar', ['-tvf', join(work, 'c-ours-base.tar')]).stderr).toBe('');
      rmSync(join(work, 'c-ours-base.tar'));
      rmSync(join(work, 'c-moby-base.tar'));
      await ourExport(cUpper, cBase, join(work, 'c-ours-diff.tar'));
      moby('export', cUpper, cBase, join(work, 'c-moby-diff.tar'));
      expectSameArchive(join(work, 'c-ours-diff.tar'), join(work, 'c-moby-diff.tar'));
    }, 300_000);

    it("round-trips the diff through Docker's applier and through ours", async () => {
      const oursDiff = join(work, 'c-ours-diff.tar');
      if (!existsSync(oursDiff)) await ourExport(cUpper, cBase, oursDiff);
      const mobyDiff = join(work, 'c-moby-diff.tar');
      if (!existsSync(mobyDiff)) moby('export', cUpper, cBase, mobyDiff);

      const t1 = join(work, 'c-docker-applied');
      copyTree(cBase, t1);
      moby('apply', t1, oursDiff);
      await expectSameTree(t1, cUpper);
      rmrf(t1);

      const t2 = join(work, 'c-ours-applied');
      copyTree(cBase, t2);
      await applyLayer(t2, createReadStream(mobyDiff));
      await expectSameTree(t2, cUpper);
      rmrf(t2);
    }, 600_000);
  });
});
