// XFS project quotas, as Docker's quota.Control: `size` for the layers of vfs and overlay2.
// Each layer with a size gets a project id of its own; the ids in use are kept in
// `home/quota-projects.json` (layer id -> project id) and freed when the layer goes.
// xfs_quota(8) in expert mode does the work; the mount it needs is found in mountinfo.
import { readFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tool, type RunResult } from '../exec.js';
import { FsMagic, getFSMagic } from '../fsmagic.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import { mountOf } from './mountinfo.js';

// --- xfs_quota -------------------------------------------------------------------------

const xfsQuota = tool('xfs_quota', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 120_000 });

/**
 * xfs_quota(8) in expert mode on one XFS mount: the commands {@link ProjectQuota} needs. Needs
 * root; every failure is a {@link ToolError} (ERR_TOOL_FAILED).
 */
export class XfsQuota {
  /** @param mountpoint - where the XFS filesystem is mounted (project quota on). */
  constructor(
    /** Where the XFS filesystem is mounted; every command addresses it. */
    readonly mountpoint: string,
  ) {}

  /** True when xfs_quota is installed and runs. */
  static available(): Promise<boolean> {
    return xfsQuota.available(['-V']);
  }

  private run(command: string, cwd?: string): Promise<RunResult> {
    return xfsQuota.run(['-x', '-c', command, this.mountpoint], { cwd });
  }

  /** True when project quotas are both accounted and enforced on this mount. */
  async projectQuotaEnforced(): Promise<boolean> {
    const { stdout } = await this.run('state -p');
    return /Accounting:\s*ON/.test(stdout) && /Enforcement:\s*ON/.test(stdout);
  }

  /**
   * Puts the tree at `dir` into project `projid` and marks directories to pass it on to
   * what is created in them. xfs_quota splits its command on spaces, so the path is given
   * relative to its parent, which is the working directory.
   */
  async setProject(dir: string, projid: number): Promise<void> {
    const name = basename(dir);
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`xfs_quota: cannot name ${JSON.stringify(dir)} in a command`);
    await this.run(`project -s -p ${name} ${projid}`, dirname(dir));
  }

  /** Hard block limit of project `projid`; 0 removes the limit. */
  async limitBytes(projid: number, bytes: number): Promise<void> {
    await this.run(`limit -p bhard=${Math.ceil(bytes / 1024)}k ${projid}`);
  }

  /** The hard block limit of project `projid` in bytes, 0 when it has none (or is not listed). */
  async hardLimitBytes(projid: number): Promise<number> {
    return (await this.report()).get(projid) ?? 0;
  }

  /** Project ids with usage or limits on this filesystem. */
  async projectsInUse(): Promise<Set<number>> {
    return new Set((await this.report()).keys());
  }

  /** The numeric project report: each listed id and its hard limit in bytes (columns: used, soft, hard, in KiB). */
  private async report(): Promise<Map<number, number>> {
    const { stdout } = await this.run('report -p -n -N -b');
    const hard = new Map<number, number>();
    for (const m of stdout.matchAll(/^#(\d+)\s+(?:\d+\s+\d+\s+(\d+)\s)?/gm)) hard.set(Number(m[1]), m[2] ? Number(m[2]) * 1024 : 0);
    return hard;
  }
}

// --- project ids per layer ---------------------------------------------------------------

const STATE_FILE = 'quota-projects.json';

/** What {@link ProjectQuota.probe} found: a usable quota, or why there is none (for ERR_QUOTA_NOT_SUPPORTED). */
export type QuotaProbe =
  | {
      /** Project quotas work under the home. */
      supported: true;
      /** The quota to {@link ProjectQuota.load} and use. */
      quota: ProjectQuota;
    }
  | {
      /** No project quotas under the home. */
      supported: false;
      /** Why, in one line ("... is not mounted with prjquota"). */
      reason: string;
    };

/**
 * Per-layer size limits on XFS with project quotas (Docker's quota.Control), for drivers whose
 * layers are directories (vfs, overlay2): each limited layer gets a project id of its own,
 * remembered in `home/quota-projects.json`. Get one from {@link ProjectQuota.probe}, then
 * {@link ProjectQuota.load} it before use; {@link ProjectQuota.release} a layer when it is removed.
 */
export class ProjectQuota {
  private projects: Record<string, number> = {};
  /** Allocation and release are serialised: two creates must not pick the same id. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The driver home whose layers are limited; holds the project-id file. */
    readonly home: string,
    /** The XFS mount under `home`, through which limits are set. */
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

  /** Reads the layer-to-project table from `home` (none yet is an empty table). Call once after probe. */
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

  /** The project id of `layer`, or undefined when it has no limit. */
  projectOf(layer: string): number | undefined {
    return this.projects[layer];
  }

  /**
   * Gives `dir` (the layer `layer` being built) a project of its own limited to `bytes`
   * (rounded up to KiB) and returns its id. Rejects with a {@link ToolError} when xfs_quota fails.
   */
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
