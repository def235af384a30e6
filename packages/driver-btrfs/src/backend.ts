// The btrfs LayerBackend, after moby's daemon/graphdriver/btrfs: every layer is a subvolume
// `home/subvolumes/<id>`, an empty one or a writable snapshot of its parent's. Beyond Docker:
// creates are atomic (made under home/tmp, renamed into place), and changes/diff have a
// native path (native-diff.ts).
//
//   home/subvolumes/<id>   the layers
//   home/quotas/<id>       the `size` of a layer with a quota, in bytes (as Docker)
//   home/stubs/<id>        marks a layer made from one that held nested subvolumes: it
//                          holds their stubs, empty directories `btrfs send` cannot see
//   home/snapshots/        read-only snapshots of layers for the native diff, kept while
//                          they are still the layer's state (emptied at init)
//   home/tmp/              layers being made
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, lchown, mkdir, readdir, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import {
  changesSize,
  errInvalidOption,
  exportChanges,
  faultPoint,
  parseSize,
  writeFileAtomic,
  type BackendCreateOpts,
  type BackendDiffOptions,
  type Change,
  type IdMappings,
  type LayerBackend,
} from '@graphdriver/core';
import { isErrno, rootPair } from '@graphdriver/core/linux';
import type { Btrfs } from './btrfs.js';
import { makePrivateMount, type HomeMount } from './home-mount.js';
import { NativeDiff, type NativeDiffStats } from './native-diff.js';
import { humanSize, type BtrfsOptions } from './options.js';
import { deleteSubvolumeTree, isSubvolume } from './subvolumes.js';

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface BtrfsBackendConfig {
  home: string;
  btrfs: Btrfs;
  options: BtrfsOptions;
  idMappings?: IdMappings;
}

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export class BtrfsBackend implements LayerBackend {
  readonly name = 'btrfs';
  readonly storageOptions = ['size'] as const;
  readonly home: string;
  readonly subvolumesDir: string;
  readonly quotasDir: string;
  readonly stubsDir: string;
  readonly snapshotsDir: string;
  readonly tmpDir: string;
  readonly native: NativeDiff;
  private readonly btrfs: Btrfs;
  private readonly options: BtrfsOptions;
  private readonly root: { uid: number; gid: number };
  private quotaOn: Promise<boolean> | null = null;
  private homeMount: HomeMount | null = null;

  constructor(config: BtrfsBackendConfig) {
    this.home = config.home;
    this.btrfs = config.btrfs;
    this.options = config.options;
    this.root = rootPair(config.idMappings);
    this.subvolumesDir = join(this.home, 'subvolumes');
    this.quotasDir = join(this.home, 'quotas');
    this.stubsDir = join(this.home, 'stubs');
    this.snapshotsDir = join(this.home, 'snapshots');
    this.tmpDir = join(this.home, 'tmp');
    this.native = new NativeDiff(
      this.btrfs,
      (id) => this.path(id),
      this.snapshotsDir,
      (id) => existsSync(this.stubFile(id)),
    );
  }

  /** Counts of native answers and fallbacks to the naive diff (for tests and benchmarks). */
  get diffStats(): NativeDiffStats {
    return this.native.stats;
  }

  path(id: string): string {
    return join(this.subvolumesDir, id);
  }

  private quotaFile(id: string): string {
    return join(this.quotasDir, id);
  }

  private stubFile(id: string): string {
    return join(this.stubsDir, id);
  }

  /** Runs with the home locked, before recovery: directories, quotas, the private mount. */
  async open(): Promise<void> {
    for (const dir of [this.subvolumesDir, this.quotasDir, this.stubsDir, this.snapshotsDir, this.tmpDir]) {
      await mkdir(dir, { recursive: true, mode: 0o710 });
    }
    // Docker turns quotas on at init when btrfs.min_space is given.
    if (this.options.minSpace > 0) await this.enableQuota();
    this.homeMount = await makePrivateMount(this.home);
  }

  // --- quotas ---------------------------------------------------------------------------

  private quotaEnabled(): Promise<boolean> {
    this.quotaOn ??= this.btrfs.quotaEnabled(this.home).catch((err) => {
      this.quotaOn = null;
      throw err;
    });
    return this.quotaOn;
  }

  private async enableQuota(): Promise<void> {
    if (await this.quotaEnabled()) return;
    const p = this.btrfs.quotaEnable(this.home).then(() => true);
    this.quotaOn = p;
    await p.catch((err) => {
      this.quotaOn = null;
      throw err;
    });
  }

  /** Docker's setStorageSize checks. */
  private checkSize(size: number): void {
    if (size === 0) throw errInvalidOption(`btrfs: invalid storage size: ${humanSize(size)}`);
    if (this.options.minSpace > 0 && size < this.options.minSpace) {
      throw errInvalidOption(`btrfs: storage size cannot be less than ${humanSize(this.options.minSpace)}`);
    }
  }

  private async limit(path: string, size: number): Promise<void> {
    await this.enableQuota();
    await this.btrfs.qgroupLimit(size, path);
  }

  private async readQuota(id: string): Promise<number | null> {
    try {
      const n = Number((await readFile(this.quotaFile(id), 'utf8')).trim());
      return Number.isSafeInteger(n) && n > 0 ? n : null;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  // --- layers ---------------------------------------------------------------------------

  async create(id: string, parent: string | null, opts: BackendCreateOpts): Promise<void> {
    const size = opts.storageOpt.size !== undefined ? parseSize(opts.storageOpt.size) : null;
    if (size !== null) this.checkSize(size);
    this.native.forget(id);
    const tmp = join(this.tmpDir, `create-${randomBytes(8).toString('hex')}`);
    if (parent) {
      await this.btrfs.subvolumeSnapshot(this.path(parent), tmp);
    } else {
      await this.btrfs.subvolumeCreate(tmp);
    }
    try {
      if (this.root.uid !== 0 || this.root.gid !== 0) await lchown(tmp, this.root.uid, this.root.gid);
      if (size !== null) {
        await this.limit(tmp, size);
        await writeFileAtomic(this.quotaFile(id), String(size));
      }
      // A snapshot shows the source's nested subvolumes as empty stub directories, which
      // `btrfs send` does not report (the naive walk does): remember that this layer has
      // them, so that the native diff steps aside. Children inherit the stubs.
      if (parent && (await this.leavesStubs(parent))) await writeFileAtomic(this.stubFile(id), '');
      // the one rename(2) that makes the finished layer appear under its id
      faultPoint('btrfs:create:unpublished');
      await rename(tmp, this.path(id));
      faultPoint('btrfs:create:published');
    } catch (err) {
      await deleteSubvolumeTree(this.btrfs, tmp).catch(() => {});
      await rm(this.quotaFile(id), { force: true }).catch(() => {});
      await rm(this.stubFile(id), { force: true }).catch(() => {});
      throw err;
    }
  }

  /** True when a snapshot of `id` holds stubs: it holds nested subvolumes, or stubs itself. */
  private async leavesStubs(id: string): Promise<boolean> {
    if (existsSync(this.stubFile(id))) return true;
    return (await this.btrfs.subvolumeList(this.path(id), { onlyBelow: true })).length > 0;
  }

  async remove(id: string): Promise<void> {
    this.native.forget(id);
    await this.native.drop(id);
    await this.removePath(this.path(id));
    await rm(this.quotaFile(id), { force: true });
    await rm(this.stubFile(id), { force: true });
  }

  /** Deletes a subvolume (nested ones first) or a plain directory; gone already is fine. */
  private async removePath(path: string): Promise<void> {
    if (await isSubvolume(path)) {
      const quota = await this.quotaEnabled().catch(() => false);
      const ids = await deleteSubvolumeTree(this.btrfs, path, quota);
      for (const subvolid of ids) {
        // The qgroup of a just-deleted subvolume is busy until the cleaner has dropped it;
        // recent kernels then remove it themselves (older ones leave it "stale"). Docker
        // logs the same failure and goes on.
        await this.btrfs.qgroupDestroy(`0/${subvolid}`, this.home).catch(() => {});
      }
    } else {
      await rm(path, { recursive: true, force: true });
    }
  }

  async mount(id: string): Promise<string> {
    const path = this.path(id);
    await access(path);
    // As Docker's Get: the limit is set again, in case quotas were turned off meanwhile.
    const size = await this.readQuota(id);
    if (size !== null && size >= this.options.minSpace) await this.limit(path, size);
    return path;
  }

  async unmount(): Promise<void> {
    // subvolumes are always reachable: nothing to release
  }

  async metadata(id: string): Promise<Record<string, string>> {
    const path = this.path(id);
    const meta: Record<string, string> = { Path: path };
    try {
      meta.SubvolumeId = String(await this.btrfs.rootId(path));
    } catch {
      // not there (yet): only the path
    }
    const size = await this.readQuota(id);
    if (size !== null) meta.Size = String(size);
    return meta;
  }

  async status(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    const version = await this.btrfs.version().catch(() => '');
    const m = /v(\d[\w.-]*)/.exec(version);
    // Docker prints libbtrfs's BTRFS_BUILD_VERSION ("Btrfs v6.2") and BTRFS_LIB_VERSION,
    // both from the btrfs-progs headers it was built with.
    if (m) out.push(['Build Version', `Btrfs v${m[1]}`]);
    const lib = await libVersion();
    if (lib !== null) out.push(['Library Version', String(lib)]);
    const fs = await this.btrfs.filesystemShow(this.home).catch(() => null);
    if (fs) {
      out.push(['Filesystem UUID', fs.uuid]);
      out.push(['Devices', fs.devices.map((d) => d.path).join(', ')]);
    }
    out.push(['Quota Enabled', String(await this.quotaEnabled().catch(() => false))]);
    if (this.options.minSpace > 0) out.push(['Min Space', humanSize(this.options.minSpace)]);
    const usage = await this.btrfs.filesystemUsage(this.home).catch(() => null);
    if (usage && usage['Device size'] !== undefined) {
      out.push(['Device Size', humanSize(usage['Device size'])]);
      out.push(['Space Used', humanSize(usage.Used)]);
      out.push(['Space Free (estimated)', humanSize(usage['Free (estimated)'])]);
    } else {
      const s = await statfs(this.home);
      out.push(['Space Used', humanSize(Number(s.blocks - s.bfree) * Number(s.bsize))]);
      out.push(['Space Free (estimated)', humanSize(Number(s.bavail) * Number(s.bsize))]);
    }
    return out;
  }

  /** Returns the half-made and orphaned layers it removed (not the snapshot cache), for `check`. */
  async recover(keep: ReadonlySet<string>): Promise<string[]> {
    const swept: string[] = [];
    // Half-made layers of a process that died, and every read-only snapshot: their cache
    // was in that process's memory, and nothing on disk is trusted to still be current.
    for (const dir of [this.tmpDir, this.snapshotsDir]) {
      for (const name of await readdir(dir)) {
        await this.removePath(join(dir, name));
        if (dir === this.tmpDir) swept.push(join(dir, name));
      }
    }
    // Layers the index does not know: made (or being removed) when the process died.
    for (const name of await readdir(this.subvolumesDir)) {
      if (keep.has(name)) continue;
      await this.removePath(join(this.subvolumesDir, name));
      swept.push(join(this.subvolumesDir, name));
    }
    for (const dir of [this.quotasDir, this.stubsDir]) {
      for (const name of await readdir(dir)) {
        if (!keep.has(name)) await rm(join(dir, name), { force: true });
      }
    }
    return swept;
  }

  async exists(id: string): Promise<boolean> {
    return stat(this.path(id)).then(
      (st) => st.isDirectory(),
      () => false,
    );
  }

  async cleanup(): Promise<void> {
    await this.native.dropAll((path) => this.removePath(path));
    // Unlike Docker, quotas stay on: they are the filesystem's, and the limits of layers
    // (ours and anybody's) would go with them.
    const m = this.homeMount;
    this.homeMount = null;
    await m?.release();
  }

  // --- native diff ----------------------------------------------------------------------

  async changes(id: string, parent: string | null): Promise<Change[] | undefined> {
    if (!parent) return this.native.decline('no parent: every entry is an Add');
    try {
      const { changes, pair } = await this.native.changes(id, parent);
      pair.release();
      this.native.stats.native++;
      return changes;
    } catch (err) {
      return this.native.decline(err);
    }
  }

  /**
   * What `id` adds to `parent`, read from the snapshot the change list was made from. Run
   * by every last put (the recorded size): snapshots made for it are not kept, and are gone
   * when it returns, so a measured layer leaves nothing under home/snapshots. Undefined
   * (core then measures the change list of `changes`, which records any fallback) when
   * the native path cannot answer.
   */
  async diffSize(id: string, parent: string | null): Promise<number | undefined> {
    if (!parent) return undefined;
    let got: Awaited<ReturnType<NativeDiff['changes']>>;
    try {
      got = await this.native.changes(id, parent, { keep: false });
    } catch {
      await this.native.settle();
      return undefined;
    }
    const { changes, pair } = got;
    try {
      const size = await changesSize(pair.newSnap, changes);
      this.native.stats.native++;
      return size;
    } finally {
      pair.release();
      await this.native.settle();
    }
  }

  async diff(id: string, parent: string | null, opts: BackendDiffOptions): Promise<Readable | undefined> {
    if (!parent) return this.native.decline('no parent: the whole tree');
    let got: Awaited<ReturnType<NativeDiff['changes']>>;
    try {
      got = await this.native.changes(id, parent);
    } catch (err) {
      return this.native.decline(err);
    }
    this.native.stats.native++;
    const { changes, pair } = got;
    // Exported from the read-only snapshot: the tar is the state the list was made from.
    // The snapshots are kept until the stream is destroyed: core's LayerDriver wraps it in
    // the one diff stream guard, which buffers ahead of its reader and destroys this stream
    // once its reader has had the end (or on destroy). Ending alone does not close it
    // (autoDestroy off), so the snapshot outlives a tar the guard has read but nobody else.
    const tar = exportChanges(pair.newSnap, changes, opts);
    const out = new PassThrough({ autoDestroy: false });
    tar.once('error', (err) => out.destroy(err));
    tar.pipe(out);
    out.once('close', () => {
      tar.destroy();
      pair.release();
    });
    return out;
  }
}

/** BTRFS_LIB_VERSION from the installed libbtrfs headers, Docker's "Library Version". */
async function libVersion(): Promise<number | null> {
  try {
    const h = await readFile('/usr/include/btrfs/version.h', 'utf8');
    const n = (k: string) => Number(new RegExp(`#define\\s+${k}\\s+(\\d+)`).exec(h)?.[1]);
    const v = n('BTRFS_LIB_MAJOR') * 10000 + n('BTRFS_LIB_MINOR') * 100 + n('BTRFS_LIB_PATCHLEVEL');
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}
