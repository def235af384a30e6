// Interop with the OCI tools of record, for real: an image layout written by umoci (and a
// zstd copy by skopeo) from a small real root filesystem is imported by our binary and
// the resulting tree must equal `umoci unpack`'s; what we export must be accepted by
// `skopeo inspect`/`skopeo copy` and unpack under umoci to the same tree.
import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareTrees,
  makeLoopbackFs,
  missingPrograms,
  requireBackingSystem,
  snapshotTree,
  type LoopbackFs,
  type TreeSnapshot,
} from '@graphdriver/core/testing';
import { chainIds, sha256 } from '@graphdriver/image';
import {
  buildImageFixture,
  ROOTLESS_UNPACKED,
  skopeo,
  umoci,
  UNPACKED,
  umociTree as umociTreeIn,
  type ImageFixture,
} from '@graphdriver/image/testing';
import { runCli, runJson } from './test-support/run-cli.js';

const missing = missingPrograms(['umoci', 'skopeo', 'busybox', 'zstd']);
if (process.getuid?.() !== 0) missing.unshift('root (owners and device nodes in the fixture)');
requireBackingSystem('the OCI interop suite', missing);

interface Imported {
  top: string;
  manifest: string;
  layers: Array<{ id: string; parent: string | null; diffId: string; digest: string; skipped: boolean; compression: string | null }>;
}

let work: string;
let fx: ImageFixture;
const ref = (tag: string, layout = fx.layout) => `oci:${layout}:${tag}`;
/** The tree umoci unpacks for an image: the reference every import is compared with. */
const umociTree = (image: string) => umociTreeIn(work, image);
const gv = (root: string) => ['--root', root, '--driver', 'vfs'];

/** The tree of one of our layers, mounted through the CLI and released again. */
async function ourTree(globals: string[], id: string, as = {}) {
  const { path } = await runJson<{ path: string }>([...globals, 'mount', id], as);
  try {
    return await snapshotTree(path);
  } finally {
    await runJson([...globals, 'unmount', id], as);
  }
}

/** Rewrites a layout's blob and every reference to it (index -> manifest -> config). */
async function rewriteConfig(layout: string, tag: string, edit: (config: { rootfs: { diff_ids: string[] } }) => void) {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const entry = index.manifests.find(
    (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  const blob = (d: string) => join(layout, 'blobs/sha256', d.slice(7));
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  edit(config);
  const put = async (value: unknown) => {
    const data = Buffer.from(JSON.stringify(value));
    const digest = sha256(data);
    await writeFile(blob(digest), data);
    return { digest, size: data.length };
  };
  Object.assign(manifest.config, await put(config));
  Object.assign(entry, await put(manifest));
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
}

let reference: TreeSnapshot;

beforeAll(async () => {
  if (missing.length) return;
  work = await mkdtemp(join(tmpdir(), 'gd-oci-'));
  fx = await buildImageFixture(join(work, 'fixture'));
  reference = await umociTree(`${fx.layout}:v4`);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)('OCI image layouts with umoci and skopeo (vfs)', () => {
  let imported: Imported;
  const root = () => join(work, 'root');

  it('the fixture is a real multi-layer image: skopeo reads it', async () => {
    const info = await skopeo.inspect(ref('v4'));
    expect(info.Layers.length).toBe(5);
    expect([...reference.keys()]).toEqual(
      expect.arrayContaining(['/bin/busybox', '/dev/null', '/opt/new/file', '/etc/hostname/name', '/var/lib/app/state.bak']),
    );
  });

  it("imports umoci's layout as a chain named by chain IDs; the tree equals umoci unpack's", async () => {
    imported = await runJson<Imported>([...gv(root()), 'import', ref('v4')]);
    const config = await skopeo.inspectConfig(ref('v4'));
    const chain = chainIds(config.rootfs.diff_ids).map((d) => d.slice(7));
    expect(imported.layers.map((l) => l.id)).toEqual(chain);
    expect(imported.layers.map((l) => l.parent)).toEqual([null, ...chain.slice(0, -1)]);
    expect(imported.layers.every((l) => !l.skipped && l.compression === 'gzip')).toBe(true);
    expect(imported.top).toBe(chain.at(-1));
    const ls = await runJson<Array<{ id: string; parent: string | null }>>([...gv(root()), 'ls']);
    expect(ls.map((l) => l.id).sort()).toEqual([...chain].sort());

    expect(compareTrees(reference, await ourTree(gv(root()), imported.top), UNPACKED)).toEqual([]);
  });

  it('skips layers already present, for the same image and for a shorter one', async () => {
    const again = await runJson<Imported>([...gv(root()), 'import', ref('v4')]);
    expect(again.layers.every((l) => l.skipped)).toBe(true);
    const v2 = await runJson<Imported>([...gv(root()), 'import', ref('v2')]);
    expect(v2.layers.every((l) => l.skipped)).toBe(true);
    expect(v2.top).toBe(imported.layers[1].id);
    expect(compareTrees(await umociTree(`${fx.layout}:v2`), await ourTree(gv(root()), v2.top), UNPACKED)).toEqual([]);
  });

  it("imports skopeo's zstd layers to the same chain and the same tree", async () => {
    const zstdLayout = join(work, 'zstd');
    await skopeo.copy(ref('v4'), `oci:${zstdLayout}:z`, ['--dest-compress-format', 'zstd']);
    const zroot = join(work, 'zroot');
    const z = await runJson<Imported>([...gv(zroot), 'import', `oci:${zstdLayout}:z`]);
    expect(z.layers.map((l) => l.compression)).toEqual(Array(5).fill('zstd'));
    expect(z.layers.map((l) => l.id)).toEqual(imported.layers.map((l) => l.id));
    expect(compareTrees(reference, await ourTree(gv(zroot), z.top), UNPACKED)).toEqual([]);
  });

  it('verifies every blob: a corrupt layer, a wrong diffID, a missing blob', async () => {
    const layerDigests = imported.layers.map((l) => l.digest);
    // a flipped byte in the third layer's blob, size unchanged
    const corrupt = join(work, 'corrupt');
    await cp(fx.layout, corrupt, { recursive: true });
    const victim = join(corrupt, 'blobs/sha256', layerDigests[2].slice(7));
    const bytes = await readFile(victim);
    bytes[bytes.length - 20] ^= 0xff;
    await writeFile(victim, bytes);
    const croot = join(work, 'croot');
    const r = await runCli([...gv(croot), 'import', `oci:${corrupt}:v4`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^graphdriver: ERR_DIGEST_MISMATCH: oci:\S+: layer blob: digest mismatch: expected sha256:/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // the two good layers below it stay; the bad one is not left behind
    const ls = (await runJson<Array<{ id: string }>>([...gv(croot), 'ls'])).map((l) => l.id).sort();
    expect(ls).toEqual(
      imported.layers
        .slice(0, 2)
        .map((l) => l.id)
        .sort(),
    );

    // a config whose diff_id does not match the layer's content
    const wrong = join(work, 'wrong-diffid');
    await cp(fx.layout, wrong, { recursive: true });
    await rewriteConfig(wrong, 'v1', (c) => {
      c.rootfs.diff_ids[0] = `sha256:${'0'.repeat(64)}`;
    });
    const w = await runCli([...gv(join(work, 'wroot')), 'import', `oci:${wrong}:v1`]);
    expect(w.status).toBe(1);
    expect(w.stderr).toMatch(/^graphdriver: ERR_DIGEST_MISMATCH: .*diff ID.*expected sha256:0{64}/);
    expect(await runJson<unknown[]>([...gv(join(work, 'wroot')), 'ls'])).toEqual([]);

    // a missing blob is found before anything is written
    const gone = join(work, 'gone');
    await cp(fx.layout, gone, { recursive: true });
    await rm(join(gone, 'blobs/sha256', layerDigests[4].slice(7)));
    const g2 = await runCli([...gv(join(work, 'groot')), 'import', `oci:${gone}:v4`]);
    expect(g2.status).toBe(1);
    expect(g2.stderr).toMatch(/^graphdriver: ERR_IMAGE_INVALID: .*blob sha256:[0-9a-f]{64} is missing/);
    expect(await runJson<unknown[]>([...gv(join(work, 'groot')), 'ls'])).toEqual([]);

    const notag = await runCli([...gv(join(work, 'groot')), 'import', `oci:${fx.layout}:nosuch`]);
    expect(notag.status).toBe(1);
    expect(notag.stderr).toMatch(/ERR_IMAGE_NOT_FOUND: .*no image tagged "nosuch"/);
  });

  it('exports a chain that skopeo inspects and copies and umoci unpacks to the same tree', async () => {
    const out = join(work, 'exported');
    const e = await runJson<{ manifest: string; config: string; layers: Array<{ id: string; digest: string; diffId: string }> }>([
      ...gv(root()),
      'export',
      imported.top,
      `oci:${out}:ours`,
    ]);
    expect(e.layers.map((l) => l.id)).toEqual(imported.layers.map((l) => l.id));
    const info = await skopeo.inspect(`oci:${out}:ours`);
    expect(info.Digest).toBe(e.manifest);
    expect(info.Layers).toEqual(e.layers.map((l) => l.digest));
    expect(info.Architecture).toBe(process.arch === 'x64' ? 'amd64' : info.Architecture);
    const config = await skopeo.inspectConfig(`oci:${out}:ours`);
    expect(config.rootfs.diff_ids).toEqual(e.layers.map((l) => l.diffId));
    // skopeo copy reads every blob and checks its digest; into containers-storage it also
    // checks each uncompressed layer against the config's diff_ids
    await skopeo.copy(`oci:${out}:ours`, `dir:${join(work, 'copied')}`);
    const cs = join(work, 'containers-storage');
    await skopeo.copy(`oci:${out}:ours`, `containers-storage:[vfs@${cs}/root+${cs}/run]ours:latest`);

    expect(compareTrees(reference, await umociTree(`${out}:ours`), UNPACKED)).toEqual([]);

    // a second tag in the same layout keeps the first; our own import reads it back
    await runJson([...gv(root()), 'export', imported.layers[0].id, `oci:${out}:base`]);
    expect((await umoci.tags(out)).sort()).toEqual(['base', 'ours']);
    const back = join(work, 'backroot');
    const b = await runJson<Imported>([...gv(back), 'import', `oci:${out}:ours`]);
    expect(compareTrees(reference, await ourTree(gv(back), b.top), UNPACKED)).toEqual([]);
  });

  it('a non-root user imports into ~/.local/share/graphdriver (vfs, owners and devices left out)', async () => {
    const home = join(work, 'nobody');
    const layout = join(work, 'readable');
    await cp(fx.layout, layout, { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', layout]);
    await chmod(work, 0o755);
    execFileSync('mkdir', ['-p', home]);
    execFileSync('chown', ['65534:65534', home]);
    // vfs named through the environment: the default for a user is overlay2 through
    // fuse-overlayfs where it can run, and its mounts are the user's alone (no allow_other), so
    // this test process, root, could not read the tree back
    const env = { HOME: home, XDG_DATA_HOME: undefined, GRAPHDRIVER_ROOT: undefined, GRAPHDRIVER: 'vfs' };
    const as = { cwd: home, uid: 65534, gid: 65534, env };
    const r = await runCli(['--json', 'import', `oci:${layout}:v4`], as);
    expect(r.status, r.stderr).toBe(0);
    const top = (JSON.parse(r.stdout) as Imported).top;
    expect(compareTrees(reference, await ourTree([], top, as), ROOTLESS_UNPACKED)).toEqual([]);
  });
});

describe.skipIf(missing.length > 0)('OCI image layouts on btrfs (a loop device)', () => {
  let fs: LoopbackFs | undefined;
  let root: string;
  const gb = () => ['--root', root, '--driver', 'btrfs'];

  beforeAll(async () => {
    try {
      fs = await makeLoopbackFs('btrfs');
    } catch (err) {
      requireBackingSystem('the btrfs OCI tests', `no loopback btrfs here: ${(err as Error).message}`);
      return;
    }
    root = join(fs.mountpoint, 'root');
  });
  afterAll(async () => {
    await fs?.teardown();
  });

  it("imports into btrfs subvolumes; the tree equals umoci unpack's; the export unpacks the same", async (ctx) => {
    if (!fs) return ctx.skip();
    const imp = await runJson<Imported>([...gb(), 'import', ref('v4')]);
    expect(imp.layers).toHaveLength(5);
    expect((await runJson<{ driver: string }>([...gb(), 'status'])).driver).toBe('btrfs');
    expect(compareTrees(reference, await ourTree(gb(), imp.top), UNPACKED)).toEqual([]);
    // the export goes through the btrfs driver's own diff
    const out = join(work, 'from-btrfs');
    await runJson([...gb(), 'export', imp.top, `oci:${out}:b`]);
    expect((await skopeo.inspect(`oci:${out}:b`)).Layers).toHaveLength(5);
    expect(compareTrees(reference, await umociTree(`${out}:b`), UNPACKED)).toEqual([]);
  });
});
