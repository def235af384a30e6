// Docker's devicemapper driver as a LayerBackend: every layer is a thin snapshot of its
// parent (or of the base device, which carries an empty filesystem); get activates the thin
// device and mounts it, put unmounts and deactivates it.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errInvalidOption, errLayerNotFound, humanSize, parseSize, type BackendCreateOpts, type LayerBackend } from '@graphdriver/core';
import { dmsetup, isBusy } from './dmsetup.js';
import { KeyedMutex } from '@graphdriver/core/linux';
import { growFilesystem, makeFilesystem, mountDevice, mountOptions, mountsUnder, unmount } from './filesystem.js';
import { deviceHash, DeviceMetadata, type DeviceRecord, type DeviceSetRecord } from './metadata.js';
import type { DevmapperOptions } from './options.js';
import { ThinPool } from './pool.js';

const MAX_DEVICE_ID = 0xffffff; // 24-bit thin device ids

export class DevmapperBackend implements LayerBackend {
  readonly name = 'devicemapper';
  readonly storageOptions = ['size'] as const;
  private readonly meta: DeviceMetadata;
  private readonly mntDir: string;
  private set!: DeviceSetRecord;
  private pool!: ThinPool;
  private prefix = '';
  /** The pool's transaction id, read once at open and advanced by each committed device. */
  private transactionId = 0;
  /**
   * Serialises what changes the device set: id allocation, the one open transaction (a single
   * file), the pool's transaction id (each step names the one before it), snapshots (which
   * suspend their origin) and deletions. Concurrent creates otherwise raced on all of these.
   */
  private readonly deviceSet = new KeyedMutex();

  constructor(
    readonly home: string,
    readonly opts: DevmapperOptions,
  ) {
    this.meta = new DeviceMetadata(join(home, 'metadata'));
    this.mntDir = join(home, 'mnt');
  }

  async open(): Promise<void> {
    await mkdir(join(this.home, 'devicemapper'), { recursive: true, mode: 0o700 });
    await mkdir(this.mntDir, { recursive: true, mode: 0o700 });
    await this.meta.init();
    this.prefix = await devicePrefix(this.home);
    this.pool = await ThinPool.open(this.home, this.prefix, this.opts);
    await this.resumeSuspendedDevices();
    this.set = await this.meta.deviceSet();
    this.transactionId = (await this.pool.status()).transactionId;
    await this.rollbackOpenTransaction();
    await this.setupBaseDevice();
  }

  private exclusively<T>(fn: () => Promise<T>): Promise<T> {
    return this.deviceSet.run('device-set', fn);
  }

  /**
   * A process killed between suspending a snapshot's origin and resuming it left the origin
   * suspended: any I/O to it, and so a mount or unmount of it, would block for good.
   */
  private async resumeSuspendedDevices(): Promise<void> {
    for (const name of await dmsetup.list()) {
      if (!name.startsWith(`${this.prefix}-`) || name === this.pool.name) continue;
      const info = await dmsetup.info(name);
      if (info.exists && info.suspended && info.liveTable) await dmsetup.resume(name);
    }
  }

  private deviceName(id: string): string {
    return `${this.prefix}-${id === '' ? 'base' : deviceHash(id)}`;
  }

  private async record(id: string): Promise<DeviceRecord> {
    const rec = id === '' ? this.set.base : await this.meta.device(id);
    if (!rec || rec.deleted) throw errLayerNotFound(id);
    return rec;
  }

  /** A crash between making a thin device and recording it leaves the device to delete. */
  private async rollbackOpenTransaction(): Promise<void> {
    const t = await this.meta.transaction();
    if (!t) return;
    const rec = t.id === '' ? this.set.base : await this.meta.device(t.id);
    if (rec?.deviceId === t.deviceId) {
      if (t.id === '') delete this.set.base;
      else await this.meta.deleteDevice(t.id);
      await this.meta.saveDeviceSet(this.set);
    }
    await dmsetup.remove(this.deviceName(t.id)).catch(() => {});
    await this.pool.deleteThin(t.deviceId);
    await this.meta.closeTransaction();
  }

  private async setupBaseDevice(): Promise<void> {
    if (this.set.base) {
      if (this.set.baseFs && this.set.baseFs !== this.opts.fs) {
        throw errInvalidOption(`devicemapper: base device has ${this.set.baseFs}, dm.fs asks for ${this.opts.fs}`);
      }
      return;
    }
    await this.exclusively(async () => {
      const base: DeviceRecord = { id: '', deviceId: await this.allocateDeviceId(), size: this.opts.baseSize };
      // The filesystem is made inside the transaction: a crash before the base is recorded
      // rolls the thin device back (it used to stay in the pool, unformatted and unrecorded).
      await this.makeThinDevice(base, async () => {
        await this.pool.createThin(base.deviceId);
        const name = this.deviceName('');
        await this.activate(base);
        try {
          await makeFilesystem(this.opts.fs, `/dev/mapper/${name}`, this.opts.mkfsArgs);
        } finally {
          await dmsetup.remove(name);
        }
      });
    });
  }

  private async allocateDeviceId(): Promise<number> {
    const used = new Set((await this.meta.allDevices()).map((d) => d.deviceId));
    if (this.set.base) used.add(this.set.base.deviceId);
    let id = this.set.nextDeviceId;
    for (let n = 0; used.has(id); n++) {
      if (n > MAX_DEVICE_ID) throw new Error('devicemapper: no free thin device id');
      id = (id % MAX_DEVICE_ID) + 1;
    }
    this.set.nextDeviceId = (id % MAX_DEVICE_ID) + 1;
    await this.meta.saveDeviceSet(this.set);
    return id;
  }

  /** Makes a thin device inside a transaction, so a crash midway is rolled back at init. */
  private async makeThinDevice(rec: DeviceRecord, make: () => Promise<void>): Promise<void> {
    await this.meta.openTransaction({ id: rec.id, deviceId: rec.deviceId });
    await make();
    if (rec.id !== '') await this.meta.saveDevice(rec);
    else {
      this.set.base = rec;
      this.set.baseFs = this.opts.fs;
      await this.meta.saveDeviceSet(this.set);
    }
    await this.pool.setTransactionId(this.transactionId, this.transactionId + 1);
    this.transactionId++;
    await this.meta.closeTransaction();
  }

  private async checkFreeSpace(): Promise<void> {
    const st = await this.pool.status();
    const free = st.dataTotal - st.dataUsed;
    if (free * 100 < st.dataTotal * this.opts.minFreeSpacePercent) {
      const err = Object.assign(
        new Error(`devicemapper: thin pool ${this.pool.name} has less than ${this.opts.minFreeSpacePercent}% free data space`),
        { code: 'ENOSPC' },
      );
      throw err;
    }
  }

  async create(id: string, parent: string | null, opts: BackendCreateOpts): Promise<void> {
    // Any given size is parsed, an empty one too (it used to be taken as "no size" and ignored).
    const requested = opts.storageOpt.size !== undefined ? parseSize(opts.storageOpt.size) : undefined;
    const origin = await this.record(parent ?? '');
    const size = requested ?? origin.size;
    if (size < origin.size) {
      throw errInvalidOption(`devicemapper: layer size ${size} cannot be smaller than its parent's ${origin.size}`);
    }
    await this.checkFreeSpace();
    const rec = await this.exclusively(async () => {
      const made: DeviceRecord = { id, deviceId: await this.allocateDeviceId(), size };
      const originName = this.deviceName(parent ?? '');
      const originInfo = await dmsetup.info(originName);
      const activeOrigin = originInfo.exists && originInfo.liveTable && !originInfo.suspended ? originName : undefined;
      await this.makeThinDevice(made, () => this.pool.createSnapshot(made.deviceId, origin.deviceId, activeOrigin));
      return made;
    });
    if (size > origin.size) await this.growLayer(rec);
  }

  /** A layer asked bigger than its origin: grow the device, then its filesystem (online). */
  private async growLayer(rec: DeviceRecord): Promise<void> {
    const name = this.deviceName(rec.id);
    const mnt = this.growMountpoint(rec.id);
    await this.activate(rec);
    await mkdir(mnt, { recursive: true });
    try {
      await mountDevice(this.opts.fs, `/dev/mapper/${name}`, mnt, mountOptions(this.opts.fs, this.opts.mountOptions));
      try {
        await growFilesystem(this.opts.fs, `/dev/mapper/${name}`, mnt);
      } finally {
        await unmount(mnt);
      }
    } finally {
      await rm(mnt, { recursive: true, force: true });
      await dmsetup.remove(name);
    }
  }

  private async activate(rec: DeviceRecord): Promise<void> {
    const name = this.deviceName(rec.id);
    const table = this.pool.thinTable(rec.deviceId, rec.size);
    const info = await dmsetup.info(name);
    if (info.exists) {
      if (info.liveTable && sameThinTable(await dmsetup.table(name), table)) {
        await dmsetup.mknodes(name); // a kill at the end of `dmsetup create` left it without its node
        if (info.suspended) await dmsetup.resume(name);
        if (info.deferredRemove) await dmsetup.cancelDeferredRemove(name);
        return;
      }
      // A process killed inside `dmsetup create` left the device without a live table (it
      // maps nothing, a mount of it fails), or it maps some other thin device: replace it.
      await dmsetup.remove(name);
    }
    await dmsetup.create(name, table);
  }

  private async deactivate(id: string): Promise<void> {
    const name = this.deviceName(id);
    if (!(await dmsetup.info(name)).exists) return;
    try {
      await dmsetup.remove(name);
    } catch (err) {
      if (!(this.opts.deferredRemoval && isBusy(err))) throw err;
      await dmsetup.remove(name, { deferred: true });
    }
  }

  async remove(id: string): Promise<void> {
    // its mount point, and the temporary one of a create that grew it and was cut short
    for (const mp of [join(this.mntDir, id), this.growMountpoint(id)]) {
      for (const m of await mountsUnder(mp)) await unmount(m);
      await rm(mp, { recursive: true, force: true });
    }
    const rec = await this.meta.device(id);
    if (!rec) return;
    await this.deactivate(id);
    await this.exclusively(async () => {
      try {
        await this.pool.deleteThin(rec.deviceId);
      } catch (err) {
        if (!(this.opts.deferredDeletion && isBusy(err))) throw err;
        // still open somewhere: keep the record, marked, and delete it later
        await this.meta.saveDevice({ ...rec, deleted: true });
        return;
      }
      await this.meta.deleteDevice(id);
    });
  }

  private growMountpoint(id: string): string {
    return join(this.mntDir, `.grow-${deviceHash(id)}`);
  }

  /** Deletions that were deferred because the device was busy. */
  private async retryDeferredDeletions(): Promise<void> {
    for (const rec of await this.meta.allDevices()) {
      if (!rec.deleted) continue;
      await this.exclusively(async () => {
        try {
          await this.pool.deleteThin(rec.deviceId);
          await this.meta.deleteDevice(rec.id);
        } catch (err) {
          if (!isBusy(err)) throw err;
        }
      });
    }
  }

  async mount(id: string, mountLabel?: string): Promise<string> {
    void mountLabel; // SELinux labels are not supported here
    const rec = await this.record(id);
    const mp = join(this.mntDir, id);
    const rootfs = join(mp, 'rootfs');
    if ((await mountsUnder(mp)).includes(mp)) return rootfs;
    await this.activate(rec);
    await mkdir(mp, { recursive: true, mode: 0o755 });
    await mountDevice(this.opts.fs, `/dev/mapper/${this.deviceName(id)}`, mp, mountOptions(this.opts.fs, this.opts.mountOptions));
    // The layer's root is rootfs/ inside the device, as Docker's: lost+found stays outside.
    await mkdir(rootfs, { recursive: true, mode: 0o755 });
    return rootfs;
  }

  async unmount(id: string): Promise<void> {
    const mp = join(this.mntDir, id);
    for (const m of await mountsUnder(mp)) await unmount(m);
    if (await this.meta.device(id)) await this.deactivate(id);
  }

  async status(): Promise<Array<[string, string]>> {
    const st = await this.pool.status();
    const block = st.dataTotal ? (st.lengthSectors / st.dataTotal) * 512 : this.pool.blockSizeSectors * 512;
    const deleted = (await this.meta.allDevices()).filter((d) => d.deleted).length;
    const out: Array<[string, string]> = [
      ['Pool Name', this.pool.name],
      ['Pool Blocksize', humanSize(block)],
      ['Base Device Size', humanSize(this.set.base?.size ?? this.opts.baseSize)],
      ['Backing Filesystem', this.set.baseFs ?? this.opts.fs],
      ['Udev Sync Supported', 'false'],
    ];
    if (this.pool.loop) {
      out.push(['Data file', this.pool.loop.dataDevice], ['Metadata file', this.pool.loop.metadataDevice]);
      out.push(['Data loop file', this.pool.loop.dataFile], ['Metadata loop file', this.pool.loop.metadataFile]);
    } else {
      out.push(['Data file', this.pool.dataDevice], ['Metadata file', this.pool.metadataDevice]);
    }
    const dataUsed = st.dataUsed * block;
    const dataTotal = st.dataTotal * block;
    out.push(
      ['Data Space Used', humanSize(dataUsed)],
      ['Data Space Total', humanSize(dataTotal)],
      ['Data Space Available', humanSize(dataTotal - dataUsed)],
      ['Metadata Space Used', humanSize(st.metadataUsed * 4096)],
      ['Metadata Space Total', humanSize(st.metadataTotal * 4096)],
      ['Metadata Space Available', humanSize((st.metadataTotal - st.metadataUsed) * 4096)],
      ['Thin Pool Minimum Free Space', humanSize((dataTotal * this.opts.minFreeSpacePercent) / 100)],
      ['Deferred Removal Enabled', String(this.opts.deferredRemoval)],
      ['Deferred Deletion Enabled', String(this.opts.deferredDeletion)],
      ['Deferred Deleted Device Count', String(deleted)],
      ['Library Version', await dmsetup.libraryVersion()],
    );
    if (this.pool.loop) {
      out.push(['Warning', 'loopback devices are for testing only; use dm.thinpooldev in production']);
    }
    return out;
  }

  /**
   * For `check`: the layer's thin device is in the driver's device metadata, and not one whose
   * deletion is pending (deferred deletion).
   */
  async exists(id: string): Promise<boolean> {
    const rec = await this.meta.device(id);
    return rec !== undefined && rec.id === id && !rec.deleted;
  }

  async metadata(id: string): Promise<Record<string, string>> {
    const rec = await this.record(id);
    return { DeviceId: String(rec.deviceId), DeviceSize: String(rec.size), DeviceName: this.deviceName(id) };
  }

  async recover(keep: ReadonlySet<string>): Promise<void> {
    // Mount points of layers that no longer exist, and grow-temporaries, are stale.
    for (const entry of await readdir(this.mntDir)) {
      if (keep.has(entry)) continue;
      const mp = join(this.mntDir, entry);
      for (const m of await mountsUnder(mp)) await unmount(m);
      await rm(mp, { recursive: true, force: true });
    }
    for (const rec of await this.meta.allDevices()) {
      if (!keep.has(rec.id) && !rec.deleted) await this.remove(rec.id);
    }
    await this.retryDeferredDeletions();
  }

  async cleanup(): Promise<void> {
    for (const m of await mountsUnder(this.mntDir)) if (m !== this.mntDir) await unmount(m);
    // every device of this home (also one a killed `dmsetup create` left without a table), then the pool we made
    const mine = (await dmsetup.list()).filter((n) => n.startsWith(`${this.prefix}-`) && n !== this.pool.name);
    for (const name of mine) await dmsetup.remove(name).catch(() => dmsetup.remove(name, { deferred: true }));
    await this.retryDeferredDeletions();
    await this.pool.close();
  }
}

/** True when a live `dmsetup table` line maps the same thin device, at the same length, as `want`. */
function sameThinTable(live: string, want: string): boolean {
  const [l, w] = [live.trim().split(/\s+/), want.split(/\s+/)];
  // the pool is printed as major:minor, so compare start, length, target and device id
  return l.length === 5 && l[0] === w[0] && l[1] === w[1] && l[2] === 'thin' && l[4] === w[4];
}

/** Names are unique per home, as Docker's "docker-<maj>:<min>-<inode>" prefix. */
export async function devicePrefix(home: string): Promise<string> {
  const st = await stat(home, { bigint: true });
  return `gd-${Number(st.dev >> 8n) & 0xfff}:${Number(st.dev & 0xffn)}-${st.ino}`;
}
