// The vfs LayerBackend: every layer is a plain directory `home/dir/<id>` holding a full
// copy of its parent. No mounts, so get/put only hand out the path.
//
// Atomicity: a layer is built under `home/tmp/<random>` (same filesystem) and renamed into
// `home/dir/` only when complete; removal renames it back into `home/tmp/` before
// deleting. A crash therefore leaves at most debris in `home/tmp/`, which recover() clears.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  deleteTree,
  errLayerNotFound,
  errQuotaNotSupported,
  fsName,
  getFSMagic,
  parseSize,
  type BackendCreateOpts,
  type IdMappings,
  type LayerBackend,
  type ProjectQuota,
} from '@graphdriver/core';
import { isErrno, rootPair } from '@graphdriver/core/linux';
import { copyTree, probeReflink } from './copy-tree.js';

export interface VfsBackendOptions {
  /** XFS project quotas when home supports them; otherwise why not. */
  quota: ProjectQuota | { unsupported: string };
  /** Default `size` of read-write layers in bytes (0: none). */
  defaultSize: number;
  idMappings?: IdMappings;
}

export class VfsBackend implements LayerBackend {
  readonly name = 'vfs';
  readonly storageOptions = ['size'] as const;
  private readonly isRoot = process.getuid?.() === 0;
  private reflinks: boolean | undefined;

  constructor(
    readonly home: string,
    private readonly opts: VfsBackendOptions,
  ) {}

  private get quota(): ProjectQuota | undefined {
    return 'unsupported' in this.opts.quota ? undefined : this.opts.quota;
  }

  dir(id: string): string {
    return join(this.home, 'dir', id);
  }

  private tmpName(prefix: string): string {
    return join(this.home, 'tmp', `${prefix}-${randomBytes(8).toString('hex')}`);
  }

  async create(id: string, parent: string | null, opts: BackendCreateOpts): Promise<void> {
    const size = this.sizeFor(opts);
    const tmp = this.tmpName('new');
    try {
      if (parent) {
        if (size) {
          // The project must be on the directory before the copy, so every copied file is
          // created inside it (and counted).
          await this.makeRoot(tmp);
          await this.quota!.apply(id, tmp, size);
        }
        await copyTree(this.dir(parent), tmp, { strictXattrs: this.isRoot });
      } else {
        await this.makeRoot(tmp);
        if (size) await this.quota!.apply(id, tmp, size);
      }
      await rename(tmp, this.dir(id));
    } catch (err) {
      await deleteTree(tmp).catch(() => {});
      if (size) await this.quota!.release(id).catch(() => {});
      throw err;
    }
  }

  /** Bytes of quota for a new layer, or 0; refuses `size` where Docker's vfs does. */
  private sizeFor(opts: BackendCreateOpts): number {
    const requested = opts.storageOpt.size;
    if (requested !== undefined && !opts.rw) {
      throw errQuotaNotSupported('vfs: the size storage option is not supported on read-only layers');
    }
    const size = requested !== undefined ? parseSize(requested) : opts.rw ? this.opts.defaultSize : 0;
    if (size > 0 && !this.quota) throw errQuotaNotSupported(`vfs: ${(this.opts.quota as { unsupported: string }).unsupported}`);
    return size;
  }

  /** An empty layer root: 0755, owned by (the mapped) root. */
  private async makeRoot(path: string): Promise<void> {
    await mkdir(path, { mode: 0o755 });
    await chmod(path, 0o755); // whatever the umask
    if (this.isRoot) {
      const root = rootPair(this.opts.idMappings);
      await chown(path, root.uid, root.gid);
    }
  }

  async remove(id: string): Promise<void> {
    const trash = this.tmpName('rm');
    try {
      await rename(this.dir(id), trash);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    await deleteTree(trash);
    await this.quota?.release(id);
  }

  async mount(id: string): Promise<string> {
    const dir = this.dir(id);
    try {
      if ((await stat(dir)).isDirectory()) return dir;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    throw errLayerNotFound(id);
  }

  async unmount(): Promise<void> {
    // nothing is mounted
  }

  async status(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [['Backing Filesystem', fsName(await getFSMagic(this.home))]];
    out.push(['Reflinks', this.reflinks ? 'true' : 'false']);
    out.push(['Quota', this.quota ? `xfs project quota on ${this.quota.xfs.mountpoint}` : `not supported (${(this.opts.quota as { unsupported: string }).unsupported})`]);
    if (this.opts.defaultSize) out.push(['Default Size', String(this.opts.defaultSize)]);
    return out;
  }

  async metadata(id: string): Promise<Record<string, string>> {
    const meta: Record<string, string> = { Path: this.dir(id) };
    const projid = this.quota?.projectOf(id);
    if (projid !== undefined) meta.ProjectId = String(projid);
    return meta;
  }

  /** Under the home lock, before core's recovery (which may already call remove). */
  async open(): Promise<void> {
    await mkdir(join(this.home, 'dir'), { recursive: true, mode: 0o710 });
    await mkdir(join(this.home, 'tmp'), { recursive: true, mode: 0o700 });
    await this.quota?.load();
  }

  async recover(keep: ReadonlySet<string>): Promise<void> {
    // Half-built layers and half-removed ones.
    for (const name of await readdir(join(this.home, 'tmp'))) await deleteTree(join(this.home, 'tmp', name));
    // Directories no record knows about: a create whose record was already dropped.
    for (const name of await readdir(join(this.home, 'dir'))) {
      if (!keep.has(name)) await this.remove(name);
    }
    await this.quota?.releaseAllExcept(keep);
    this.reflinks = await probeReflink(join(this.home, 'tmp'));
  }

  async cleanup(): Promise<void> {
    // no mounts, no devices
  }
}
