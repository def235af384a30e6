// Typed wrapper for xfs_quota(8) in expert mode: project quotas on one mounted filesystem.
import { basename, dirname } from 'node:path';
import { tool, type RunResult } from '@graphdriver/core';

const xfsQuota = tool('xfs_quota', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 120_000 });

export class XfsQuota {
  constructor(readonly mountpoint: string) {}

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

  /** Project ids with usage or limits on this filesystem (numeric report). */
  async projectsInUse(): Promise<Set<number>> {
    const { stdout } = await this.run('report -p -n -N -b');
    const ids = new Set<number>();
    for (const m of stdout.matchAll(/^#(\d+)\s/gm)) ids.add(Number(m[1]));
    return ids;
  }
}
