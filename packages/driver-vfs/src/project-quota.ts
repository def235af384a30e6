// `size` for vfs layers: XFS project quotas, as Docker's quota.Control. Each layer with a
// size gets a project id of its own; the ids in use are kept in `home/quota-projects.json`
// (layer id -> project id) and freed when the layer goes.
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FsMagic, getFSMagic, writeFileAtomic } from '@graphdriver/core';
import { mountOf } from './mount-of.js';
import { XfsQuota } from './xfs-quota.js';

const STATE_FILE = 'quota-projects.json';

export type QuotaProbe = { supported: true; quota: ProjectQuota } | { supported: false; reason: string };

export class ProjectQuota {
  private projects: Record<string, number> = {};
  /** Allocation and release are serialised: two creates must not pick the same id. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly home: string,
    readonly xfs: XfsQuota,
  ) {}

  /** Project quotas are usable when home is on XFS mounted with prjquota and we are root. */
  static async probe(home: string): Promise<QuotaProbe> {
    const no = (reason: string): QuotaProbe => ({ supported: false, reason });
    if ((await getFSMagic(home)) !== FsMagic.xfs) return no(`${home} is not on XFS`);
    const mount = await mountOf(home);
    if (!mount) return no(`no mount found for ${home}`);
    if (!mount.superOptions.some((o) => o === 'prjquota' || o === 'pquota')) {
      return no(`${mount.mountpoint} is not mounted with prjquota`);
    }
    if (process.getuid?.() !== 0) return no('project quotas need root');
    if (!(await XfsQuota.available())) return no('xfs_quota is not installed');
    const xfs = new XfsQuota(mount.mountpoint);
    if (!(await xfs.projectQuotaEnforced())) return no(`project quota is not enforced on ${mount.mountpoint}`);
    return { supported: true, quota: new ProjectQuota(home, xfs) };
  }

  private get statePath(): string {
    return join(this.home, STATE_FILE);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  async load(): Promise<void> {
    try {
      this.projects = JSON.parse(await readFile(this.statePath, 'utf8')) as Record<string, number>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.projects = {};
    }
  }

  private async save(): Promise<void> {
    // No file when no layer has a quota: a store without quota layers looks as it did.
    if (Object.keys(this.projects).length === 0) {
      await unlink(this.statePath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      return;
    }
    await writeFileAtomic(this.statePath, JSON.stringify(this.projects));
  }

  projectOf(layer: string): number | undefined {
    return this.projects[layer];
  }

  /** Gives `dir` (the layer `layer` being built) a project of its own limited to `bytes`. */
  apply(layer: string, dir: string, bytes: number): Promise<number> {
    return this.serial(async () => {
      const used = await this.xfs.projectsInUse();
      for (const id of Object.values(this.projects)) used.add(id);
      let projid = 1;
      while (used.has(projid)) projid++;
      this.projects[layer] = projid;
      await this.save();
      await this.xfs.setProject(dir, projid);
      await this.xfs.limitBytes(projid, bytes);
      return projid;
    });
  }

  /** Drops the limit of `layer`'s project and forgets it. Unknown layers are fine. */
  release(layer: string): Promise<void> {
    return this.serial(async () => {
      const projid = this.projects[layer];
      if (projid === undefined) return;
      await this.xfs.limitBytes(projid, 0);
      delete this.projects[layer];
      await this.save();
    });
  }

  /** After a crash: frees the projects of layers that are not in `keep`. */
  async releaseAllExcept(keep: ReadonlySet<string>): Promise<void> {
    for (const layer of Object.keys(this.projects)) if (!keep.has(layer)) await this.release(layer);
  }
}
