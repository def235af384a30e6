// The overlay2 LayerBackend, after moby's daemon/graphdriver/overlay2 (layout in layout.ts).
// A layer is its own diff dir plus the diff dirs of its parents as overlay lower dirs: a
// child costs a few mkdirs, whatever the size of its parents.
//
// Atomicity: a layer is built under home/tmp/<random> and renamed to home/<id> when
// complete (its l/ link is made just before, and swept at recovery when dangling); removal
// renames it back into home/tmp first. recover() clears home/tmp, unmounts and deletes
// what no record knows, and drops dangling links.
import { randomBytes } from 'node:crypto';
import { chmod, lchown, mkdir, readdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  deleteTree,
  ErrorCode,
  GraphDriverError,
  errLayerNotFound,
  errPrerequisites,
  errQuotaNotSupported,
  fsName,
  getFSMagic,
  parseSize,
  tool,
  type ApplyOptions,
  type BackendCreateOpts,
  type BackendDiffOptions,
  type Change,
  type IdMappings,
  type LayerBackend,
  type LayerStream,
  type ProjectQuota,
} from '@graphdriver/core';
import { isShortId, Layout, LINK_DIR, newShortId, RESERVED, TMP_DIR } from './layout.js';
import { NativeDiff, type NativeDiffStats, type WhiteoutForm } from './native-diff.js';
import { probeOverlay } from './probe.js';
import { isMountPoint, mountsBelow, overlayOptions, kernelExtraOptions, type Mounter } from './overlay-mount.js';

export interface OverlayBackendConfig {
  home: string;
  mounter: Mounter;
  /** How this mounter writes deletions and opaque directories into the upper dir. */
  whiteouts: WhiteoutForm;
  /** XFS project quotas when the home supports them; otherwise why not. */
  quota: ProjectQuota | { unsupported: string };
  /** Default `size` of read-write layers in bytes (0: none), Docker's overlay2.size. */
  defaultSize: number;
  idMappings?: IdMappings;
}

/** The file ProjectQuota keeps in the home. */
const QUOTA_STATE = 'quota-projects.json';

const touch = tool('touch', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 30_000 });

const isErrno = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException)?.code ?? '');

/** The host id container id 0 maps to, or 0 without a mapping. */
function hostRoot(maps: IdMappings['uidMap'] | undefined): number {
  const m = maps?.find((r) => r.containerId <= 0 && 0 < r.containerId + r.size);
  return m ? m.hostId - m.containerId : 0;
}

/**
 * upperdir and workdir relative to the home, through the layer's l/ link: the kernel follows
 * the link and then "..", so no layer id (which may hold "," or ":") is in the options.
 */
function upperDirs(short: string): { upper: string; work: string } {
  return { upper: `${LINK_DIR}/${short}`, work: `${LINK_DIR}/${short}/../work` };
}

export class OverlayBackend implements LayerBackend {
  readonly name = 'overlay2';
  readonly storageOptions = ['size'] as const;
  readonly layout: Layout;
  readonly native: NativeDiff;
  private readonly isRoot = process.getuid?.() === 0;

  constructor(private readonly config: OverlayBackendConfig) {
    this.layout = new Layout(config.home);
    this.native = new NativeDiff(this.layout, config.whiteouts);
  }

  get home(): string {
    return this.config.home;
  }

  get mounter(): Mounter {
    return this.config.mounter;
  }

  /** Counts of native answers and fallbacks to the naive diff (for tests and benchmarks). */
  get diffStats(): NativeDiffStats {
    return this.native.stats;
  }

  async open(): Promise<void> {
    await mkdir(this.layout.linkDir(), { recursive: true, mode: 0o700 });
    await mkdir(this.layout.tmpDir(), { recursive: true, mode: 0o700 });
    await this.quota?.load();
    try {
      this.native.naiveReason = (await probeOverlay(this.tmpName('check'), this.config.mounter)).naiveDiffReason;
    } catch (err) {
      const fs = fsName(await getFSMagic(this.home));
      throw errPrerequisites(
        this.name,
        `an overlay (${this.config.mounter.kind === 'kernel' ? 'kernel' : 'fuse-overlayfs'}) does not mount over ${fs} at ${this.home}: ${(err as Error).message}`,
        err,
      );
    }
  }

  private tmpName(prefix: string): string {
    return join(this.layout.tmpDir(), `${prefix}-${randomBytes(8).toString('hex')}`);
  }

  async create(id: string, parent: string | null, opts: BackendCreateOpts): Promise<void> {
    if (RESERVED.has(id) || id === 'layers' || id === 'lock' || id.startsWith('.lock-') || id === QUOTA_STATE) {
      throw new GraphDriverError(ErrorCode.InvalidId, `invalid layer id ${JSON.stringify(id)}: overlay2 keeps its own ${id} in the home`);
    }
    const size = this.sizeFor(opts);
    const lower = parent ? await this.lowerFor(parent) : null;
    const short = newShortId();
    if (lower) {
      // Refused now rather than at every get: the options must fit the kernel's page.
      overlayOptions({ lower: lower.split(':'), ...upperDirs(short) }, kernelExtraOptions());
    }
    const tmp = this.tmpName('new');
    const link = this.layout.link(short);
    try {
      await mkdir(tmp, { mode: 0o700 });
      // the project goes on first, so that everything made in the layer is counted in it
      if (size) await this.quota!.apply(id, tmp, size);
      await this.makeRoot(join(tmp, 'diff'), parent);
      await mkdir(join(tmp, 'work'), { mode: 0o700 });
      await mkdir(join(tmp, 'merged'), { mode: 0o700 });
      await writeFile(join(tmp, 'link'), short);
      if (lower) await writeFile(join(tmp, 'lower'), lower);
      await symlink(join('..', id, 'diff'), link);
      await rename(tmp, this.layout.dir(id));
    } catch (err) {
      await rm(link, { force: true }).catch(() => {});
      await deleteTree(tmp).catch(() => {});
      if (size) await this.quota!.release(id).catch(() => {});
      throw err;
    }
  }

  private get quota(): ProjectQuota | undefined {
    return 'unsupported' in this.config.quota ? undefined : this.config.quota;
  }

  /** Bytes of quota for a new layer, or 0; refuses `size` where Docker's overlay2 does. */
  private sizeFor(opts: BackendCreateOpts): number {
    const requested = opts.storageOpt.size;
    if (requested !== undefined && !opts.rw) {
      throw errQuotaNotSupported('overlay2: --storage-opt size is only supported for read-write layers');
    }
    const size = requested !== undefined ? parseSize(requested) : opts.rw ? this.config.defaultSize : 0;
    if (size > 0 && !this.quota) throw errQuotaNotSupported(`overlay2: ${(this.config.quota as { unsupported: string }).unsupported}`);
    return size;
  }

  /** The `lower` of a child of `parent`: the parent's link, then the parent's own lower. */
  private async lowerFor(parent: string): Promise<string> {
    const short = await this.layout.shortId(parent);
    const above = await this.layout.lowers(parent);
    return [`${LINK_DIR}/${short}`, ...above].join(':');
  }

  /**
   * An empty layer root: 0755, owned by (the mapped) root. A child's upper root is what the
   * merged view shows as its root, so it takes the parent's root's mode, owner and times
   * (a copy would have them too).
   */
  private async makeRoot(path: string, parent: string | null): Promise<void> {
    await mkdir(path, { mode: 0o755 });
    const from = parent ? await stat(this.layout.diff(parent)) : null;
    await chmod(path, from ? from.mode & 0o7777 : 0o755); // whatever the umask
    if (from && this.isRoot) await lchown(path, from.uid, from.gid);
    else if (this.isRoot) await lchown(path, hostRoot(this.config.idMappings?.uidMap), hostRoot(this.config.idMappings?.gidMap));
    // touch -r: nanosecond times (Node's utimes goes through a double and loses them)
    if (from) await touch.run(['-h', '-r', this.layout.diff(parent!), '--', path]);
  }

  async remove(id: string): Promise<void> {
    const dir = this.layout.dir(id);
    await this.unmountAll(this.layout.merged(id));
    let short: string | null = null;
    try {
      short = await this.layout.shortId(id);
    } catch {
      // no link file: made before its link, or already half removed
    }
    const trash = this.tmpName('rm');
    try {
      await rename(dir, trash);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    if (short) await rm(this.layout.link(short), { force: true });
    await deleteTree(trash);
    await this.quota?.release(id);
  }

  async mount(id: string): Promise<string> {
    const lowers = await this.layout.lowers(id).catch((err) => {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw errLayerNotFound(id);
      throw err;
    });
    if (lowers.length === 0) {
      // A base layer has nothing to merge: its diff dir is its root (as moby).
      const diff = this.layout.diff(id);
      if (!(await stat(diff).catch(() => null))?.isDirectory()) throw errLayerNotFound(id);
      return diff;
    }
    const merged = this.layout.merged(id);
    if (await isMountPoint(merged)) return merged; // left mounted by an earlier process of this store
    await mkdir(merged, { recursive: true, mode: 0o700 });
    await this.config.mounter.mount(this.home, { lower: lowers, ...upperDirs(await this.layout.shortId(id)) }, merged);
    return merged;
  }

  async unmount(id: string): Promise<void> {
    await this.unmountAll(this.layout.merged(id));
  }

  /** Unmounts `target` until nothing is mounted there (a crash can leave it mounted twice). */
  private async unmountAll(target: string): Promise<void> {
    for (let i = 0; i < 16 && (await isMountPoint(target)); i++) await this.config.mounter.unmount(target);
  }

  async status(): Promise<Array<[string, string]>> {
    return [
      ['Backing Filesystem', fsName(await getFSMagic(this.home))],
      ['Supports d_type', 'true'],
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', this.native.naiveReason === null ? 'true' : `false (${this.native.naiveReason})`],
      ['Mount Program', this.config.mounter.kind === 'kernel' ? 'kernel overlay' : 'fuse-overlayfs'],
      ['userxattr', 'false'],
      [
        'Quota',
        this.quota
          ? `xfs project quota on ${this.quota.xfs.mountpoint}`
          : `not supported (${(this.config.quota as { unsupported: string }).unsupported})`,
      ],
    ];
  }

  async metadata(id: string): Promise<Record<string, string>> {
    const lowers = await this.layout.lowerDirs(id).catch(() => [] as string[]);
    const projid = this.quota?.projectOf(id);
    const quota: Record<string, string> = projid === undefined ? {} : { ProjectId: String(projid) };
    if (lowers.length === 0) return { UpperDir: this.layout.diff(id), ...quota };
    return {
      ...quota,
      LowerDir: lowers.join(':'),
      UpperDir: this.layout.diff(id),
      WorkDir: this.layout.work(id),
      MergedDir: this.layout.merged(id),
    };
  }

  async recover(keep: ReadonlySet<string>): Promise<void> {
    // Mounts of layers no record knows, and anything mounted under home/tmp, innermost first.
    const mounts = (await mountsBelow(this.home)).reverse();
    for (const m of mounts) {
      const rel = m.mountpoint.slice(this.home.length + 1).split('/');
      if (rel[0] === TMP_DIR || (!RESERVED.has(rel[0]) && !keep.has(rel[0]))) await this.config.mounter.unmount(m.mountpoint);
    }
    for (const name of await readdir(this.layout.tmpDir())) await deleteTree(join(this.layout.tmpDir(), name));
    for (const name of await readdir(this.home)) {
      if (RESERVED.has(name) || keep.has(name)) continue;
      // only layer directories: core's index and lock files live here too
      const st = await stat(join(this.home, name, 'diff')).catch(() => null);
      if (st?.isDirectory()) await this.remove(name);
    }
    for (const name of await readdir(this.layout.linkDir())) {
      const link = this.layout.link(name);
      let target: string | null = null;
      try {
        target = await readlink(link);
      } catch {
        // not a link: not ours
      }
      const id = target?.split('/')[1] ?? '';
      const live = isShortId(name) && keep.has(id) && (await stat(link).catch(() => null)) !== null;
      if (!live) await rm(link, { force: true, recursive: true });
    }
    await this.quota?.releaseAllExcept(keep);
  }

  async cleanup(): Promise<void> {
    // core unmounts every layer it mounted before calling this; nothing else is held
  }

  // --- native diff ----------------------------------------------------------------------

  changes(id: string, parent: string | null): Promise<Change[] | undefined> {
    return this.native.changes(id, parent);
  }

  diff(id: string, parent: string | null, opts: BackendDiffOptions): Promise<Readable | undefined> {
    return this.native.diff(id, parent, opts);
  }

  diffSize(id: string, parent: string | null): Promise<number | undefined> {
    return this.native.diffSize(id, parent);
  }

  /** Unpacks straight into the diff dir, Docker's whiteouts turned into overlay's. */
  applyDiff(id: string, diff: LayerStream, opts: ApplyOptions): Promise<number> {
    return this.native.apply(id, diff, opts);
  }
}
