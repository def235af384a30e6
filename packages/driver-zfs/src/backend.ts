// The zfs LayerBackend: layer `id` is dataset `<fsname>/<id>`, a child is a clone of a snapshot
// of its parent, and a layer is mounted at `<home>/graph/<id>` while core holds references.
// Core owns ids, the index, reference counts and locking; this module only talks to ZFS.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import {
  ErrorCode,
  GraphDriverError,
  asStorageError,
  errLayerBusy,
  parseSize,
  type BackendCreateOpts,
  type LayerBackend,
} from '@graphdriver/core';
import { zfsSizeOrZero } from './human-size.js';
import { mountAt, mountsUnder, readMountInfo, type MountInfo } from '@graphdriver/core/linux';
import { SNAPSHOT_PREFIX, isValidLayerId, layerDatasetName, leafName, snapshotName, tempDatasetName } from './names.js';
import { retryWhileBusy } from './retry.js';
import type { ZfsCli } from './zfs-cli.js';
import { isAlreadyExists, isBusy, isMissingDataset } from './zfs-errors.js';

/**
 * User property naming the home a dataset belongs to. Recovery destroys only datasets that
 * carry this home: the parent dataset may hold other things (it can be the dataset of "/"),
 * or the layers of another home.
 */
export const HOME_PROPERTY = 'graphdriver:home';

/** NODE_DEBUG=graphdriver-zfs shows what recovery had to leave behind. */
const debug = debuglog('graphdriver-zfs');

export interface ZfsBackendConfig {
  home: string;
  fsname: string;
  zfs: ZfsCli;
  mountOptions: readonly string[];
  /** Owner of a layer's root when user namespaces remap root; undefined for 0:0. */
  rootOwner?: { uid: number; gid: number };
}

/** Value of HOME_PROPERTY for `home`: the path itself when it is a short, plain string. */
export function homeMarker(home: string): string {
  return Buffer.byteLength(home) <= 1000 && !/[\0-\x1f]/.test(home) ? home : `sha256:${createHash('sha256').update(home).digest('hex')}`;
}

/** Docker's label.FormatMountLabel: a label only means something when SELinux is on. */
function labelOptions(mountLabel: string | undefined): string[] {
  if (!mountLabel || !existsSync('/sys/fs/selinux/enforce')) return [];
  return [`context="${mountLabel}"`];
}

export class ZfsBackend implements LayerBackend {
  readonly name = 'zfs';
  readonly storageOptions = ['size'] as const;
  readonly graphDir: string;
  private readonly marker: string;

  constructor(private readonly cfg: ZfsBackendConfig) {
    this.graphDir = join(cfg.home, 'graph');
    this.marker = homeMarker(cfg.home);
  }

  get fsname(): string {
    return this.cfg.fsname;
  }

  private get zfs(): ZfsCli {
    return this.cfg.zfs;
  }

  dataset(id: string): string {
    return layerDatasetName(this.cfg.fsname, id);
  }

  mountpoint(id: string): string {
    return join(this.graphDir, id);
  }

  async create(id: string, parent: string | null, opts: BackendCreateOpts): Promise<void> {
    const target = this.dataset(id);
    const quota = opts.storageOpt.size !== undefined ? parseSize(opts.storageOpt.size) : 0;
    const props: Record<string, string> = {
      ...this.zfs.unmountedLayerProps(),
      [HOME_PROPERTY]: this.marker,
      ...(quota > 0 ? { quota: String(quota) } : {}),
    };
    // Built under a temporary name and renamed into place, so `<fsname>/<id>` only ever
    // names a complete layer; recovery destroys temporary datasets a crash left behind.
    const temp = tempDatasetName(this.cfg.fsname);
    let snapshot: string | undefined;
    try {
      if (parent) {
        snapshot = snapshotName(this.dataset(parent));
        await this.zfs.snapshot(snapshot);
        await this.zfs.clone(snapshot, temp, props);
        // Deferred: the snapshot stays while the clone needs it and vanishes with the clone.
        await this.zfs.destroy(snapshot, { deferred: true });
        snapshot = undefined;
      } else {
        await this.zfs.create(temp, props);
      }
      await this.zfs.rename(temp, target);
    } catch (err) {
      await this.zfs.destroy(temp, { recursive: true }).catch(() => {});
      if (snapshot) await this.zfs.destroy(snapshot, { deferred: true }).catch(() => {});
      if (isAlreadyExists(err)) {
        throw new GraphDriverError(ErrorCode.LayerExists, `dataset ${target} already exists and is not a layer of ${this.cfg.home}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    if (!isValidLayerId(this.cfg.fsname, id)) return; // such a layer can never have been made
    await this.unmount(id);
    await this.destroyDataset(this.dataset(id), id);
  }

  /** `zfs destroy -r`, retried a little while zfs-fuse still calls a just-unmounted dataset busy. */
  private async destroyDataset(name: string, id: string): Promise<void> {
    try {
      await retryWhileBusy(() => this.zfs.destroy(name, { recursive: true }));
    } catch (err) {
      if (isMissingDataset(err)) return;
      if (isBusy(err))
        throw new GraphDriverError(ErrorCode.LayerBusy, `layer ${id} is busy: zfs destroy ${name}: dataset is busy`, { cause: err });
      throw err;
    }
  }

  async mount(id: string, mountLabel?: string): Promise<string> {
    const name = this.dataset(id);
    const path = this.mountpoint(id);
    const current = mountAt(await readMountInfo(), path);
    if (current?.source === name) return path;
    if (current) {
      throw errLayerBusy(id, `${current.source} (${current.fstype}) is mounted at ${path}`);
    }
    try {
      await mkdir(path, { recursive: true, mode: 0o755 });
      await this.zfs.mount(name, path, [...this.cfg.mountOptions, ...labelOptions(mountLabel)]);
      // A fresh layer's root belongs to 0:0; with remapped ids it must belong to the mapped root.
      const owner = this.cfg.rootOwner;
      if (owner) await chown(path, owner.uid, owner.gid);
    } catch (err) {
      // core's get() passes backend errors on as they are: a full disk under the home is ERR_NO_SPACE here
      throw asStorageError(err, `mount ${id}`);
    }
    return path;
  }

  async unmount(id: string): Promise<void> {
    if (!isValidLayerId(this.cfg.fsname, id)) return;
    const path = this.mountpoint(id);
    const current = mountAt(await readMountInfo(), path);
    if (current) await this.unmountEntry(current);
    await rmdir(path).catch(() => {});
  }

  /** Unmounts one mount under graph/: a dataset of ours through zfs, anything else with umount. */
  private async unmountEntry(e: MountInfo): Promise<void> {
    const ours = e.source.startsWith(`${this.cfg.fsname}/`) && isValidLayerId(this.cfg.fsname, leafName(e.source));
    if (ours) await this.zfs.unmount(e.source, e.mountpoint);
    else await this.zfs.umountPath(e.mountpoint);
  }

  /**
   * Unmounts everything under graph/ (deepest first) and removes the emptied mountpoints.
   * `bestEffort` (recovery) goes on past a mount that will not go, leaving it to the next init.
   */
  private async unmountAll(bestEffort = false): Promise<void> {
    for (const e of mountsUnder(await readMountInfo(), this.graphDir)) {
      if (e.mountpoint === this.graphDir) continue;
      try {
        await this.unmountEntry(e);
      } catch (err) {
        if (!bestEffort) throw err;
        debug('recover: cannot unmount %s: %s', e.mountpoint, (err as Error).message);
        continue;
      }
      await rmdir(e.mountpoint).catch(() => {});
    }
  }

  async status(): Promise<Array<[string, string]>> {
    const fsname = this.cfg.fsname;
    const pool = fsname.split('/')[0];
    let health: string;
    let poolName = pool;
    try {
      health = await this.zfs.poolHealth(pool);
    } catch (err) {
      poolName = `error while getting pool information ${(err as Error).message}`;
      health = 'not available';
    }
    const p = await this.zfs.get(fsname, ['used', 'available', 'quota', 'compression']);
    const quota = zfsSizeOrZero(p.quota ?? 'none');
    const fl = this.zfs.flavour;
    return [
      ['Zpool', poolName],
      ['Zpool Health', health],
      ['Parent Dataset', fsname],
      ['Space Used By Parent', String(zfsSizeOrZero(p.used ?? '0'))],
      ['Space Available', String(zfsSizeOrZero(p.available ?? '0'))],
      ['Parent Quota', quota === 0 ? 'no' : String(quota)],
      ['Compression', p.compression ?? 'unknown'],
      ['Implementation', fl.kind === 'openzfs' ? `OpenZFS ${fl.version}` : `zfs-fuse ${fl.version}`],
    ];
  }

  /** For `check`: the layer's dataset is there, and is this home's (not a stranger's of that name). */
  async exists(id: string): Promise<boolean> {
    if (!isValidLayerId(this.cfg.fsname, id)) return false;
    try {
      return (await this.zfs.get(this.dataset(id), [HOME_PROPERTY]))[HOME_PROPERTY] === this.marker;
    } catch (err) {
      if (isMissingDataset(err)) return false;
      throw err;
    }
  }

  async metadata(id: string): Promise<Record<string, string>> {
    return { Mountpoint: this.mountpoint(id), Dataset: `${this.cfg.fsname}/${id}` };
  }

  /**
   * At init (the home lock is held, so nothing of this home is in use): unmount whatever is
   * still mounted under graph/, destroy datasets of this home that are not layers (temporary
   * names, orphans), and drop snapshots a crash left between snapshot and clone.
   */
  async recover(keep: ReadonlySet<string>): Promise<void> {
    await mkdir(this.graphDir, { recursive: true, mode: 0o700 });
    await this.unmountAll(true);
    const fsname = this.cfg.fsname;
    // Best effort from here: a leftover that will not go (mounted elsewhere, busy) must not
    // keep the store from opening; the next init tries again.
    const sweep = async (what: string, fn: () => Promise<void>) =>
      fn().catch((err: Error) => debug('recover: cannot destroy %s: %s', what, err.message));
    const children = await this.zfs.list(fsname, { type: 'filesystem', depth: 1, props: [HOME_PROPERTY, 'mountpoint'] });
    const ours = new Set<string>();
    for (const row of children) {
      const leaf = leafName(row.name);
      if (row[HOME_PROPERTY] !== this.marker) continue;
      ours.add(leaf);
      if (keep.has(leaf)) continue;
      await sweep(row.name, async () => {
        // zfs-fuse mounts by property: make sure an orphan is not mounted anywhere first
        if (!this.zfs.flavour.legacyMount && row.mountpoint !== 'none') await this.zfs.set(row.name, 'mountpoint', 'none');
        await this.destroyDataset(row.name, leaf);
      });
    }
    const snapshots = await this.zfs.list(fsname, { type: 'snapshot', depth: 2, props: ['defer_destroy'] });
    for (const row of snapshots) {
      const [ds, snap] = row.name.split('@');
      if (!snap?.startsWith(SNAPSHOT_PREFIX) || !ds.startsWith(`${fsname}/`) || !ours.has(leafName(ds))) continue;
      // A deferred destroy keeps a snapshot that still has clones and drops one that has none.
      if (row.defer_destroy !== 'on') await sweep(row.name, () => this.zfs.destroy(row.name, { deferred: true }));
    }
  }

  async cleanup(): Promise<void> {
    await this.unmountAll();
  }
}
