// What the driver remembers about its thin devices, as small JSON files written atomically
// under home/metadata: one per layer device, the device set (base device, next id), and an
// open transaction (a thin device being made), so a crash in between is rolled back at init.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@graphdriver/core';
import { isTempName, sweepTemps } from '@graphdriver/core/linux';
import type { FsType } from './filesystem.js';

export interface DeviceRecord {
  /** Layer id; '' for the base device. */
  id: string;
  deviceId: number;
  /** Bytes. */
  size: number;
  /** Deletion failed because the device was busy; retried later (deferred deletion). */
  deleted?: boolean;
}

export interface DeviceSetRecord {
  nextDeviceId: number;
  base?: DeviceRecord;
  baseFs?: FsType;
}

export interface Transaction {
  id: string;
  deviceId: number;
}

/** A dm-safe, bounded form of a layer id for device and file names. */
export function deviceHash(id: string): string {
  return /^[A-Za-z0-9_.:+-]{1,64}$/.test(id) && !id.startsWith('.')
    ? id
    : 'h-' + createHash('sha256').update(id).digest('hex').slice(0, 40);
}

export class DeviceMetadata {
  private readonly devicesDir: string;
  constructor(readonly dir: string) {
    this.devicesDir = join(dir, 'devices');
  }

  /** Makes the directories and sweeps temporaries a killed process left (the home is locked). */
  async init(): Promise<void> {
    await mkdir(this.devicesDir, { recursive: true, mode: 0o700 });
    for (const dir of [this.dir, this.devicesDir]) await sweepTemps(dir);
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async deviceSet(): Promise<DeviceSetRecord> {
    return (await this.readJson<DeviceSetRecord>(join(this.dir, 'deviceset.json'))) ?? { nextDeviceId: 1 };
  }

  async saveDeviceSet(rec: DeviceSetRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, 'deviceset.json'), JSON.stringify(rec));
  }

  device(id: string): Promise<DeviceRecord | undefined> {
    return this.readJson<DeviceRecord>(join(this.devicesDir, deviceHash(id) + '.json'));
  }

  async saveDevice(rec: DeviceRecord): Promise<void> {
    await writeFileAtomic(join(this.devicesDir, deviceHash(rec.id) + '.json'), JSON.stringify(rec));
  }

  async deleteDevice(id: string): Promise<void> {
    await unlink(join(this.devicesDir, deviceHash(id) + '.json')).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async allDevices(): Promise<DeviceRecord[]> {
    const out: DeviceRecord[] = [];
    for (const name of await readdir(this.devicesDir)) {
      if (!name.endsWith('.json')) {
        if (isTempName(name)) await unlink(join(this.devicesDir, name)).catch(() => {});
        continue;
      }
      const rec = await this.readJson<DeviceRecord>(join(this.devicesDir, name));
      if (rec) out.push(rec);
    }
    return out;
  }

  transaction(): Promise<Transaction | undefined> {
    return this.readJson<Transaction>(join(this.dir, 'transaction.json'));
  }

  async openTransaction(t: Transaction): Promise<void> {
    await writeFileAtomic(join(this.dir, 'transaction.json'), JSON.stringify(t));
  }

  async closeTransaction(): Promise<void> {
    await unlink(join(this.dir, 'transaction.json')).catch(() => {});
  }
}
