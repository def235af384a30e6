// The thin pool: loop-backed sparse files under home (Docker's default, for testing), an
// existing pool (dm.thinpooldev), or given data and metadata devices (dm.datadev/metadatadev).
import { open, readFile, realpath, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError } from '@graphdriver/core';
import { dmsetup, type ThinPoolStatus } from './dmsetup.js';
import { attachLoop, detachLoop, findLoop, refreshLoopCapacity } from '@graphdriver/core/linux';
import type { DevmapperOptions } from './options.js';

const LOW_WATER_MARK_BLOCKS = 32768;

export interface PoolFiles {
  dataFile: string;
  metadataFile: string;
}

export class ThinPool {
  private constructor(
    readonly name: string,
    /** Set when the pool runs on loop devices over files under home. */
    readonly loop: (PoolFiles & { dataDevice: string; metadataDevice: string }) | undefined,
    readonly dataDevice: string,
    readonly metadataDevice: string,
    /** True when this driver made the pool (and so may take it down at cleanup). */
    readonly owned: boolean,
    readonly blockSizeSectors: number,
  ) {}

  get devPath(): string {
    return `/dev/mapper/${this.name}`;
  }

  static async open(home: string, prefix: string, o: DevmapperOptions): Promise<ThinPool> {
    if (o.thinPoolDev) {
      const st = await dmsetup.thinPoolStatus(o.thinPoolDev); // throws when it is not a thin pool
      await dmsetup.mknodes(o.thinPoolDev); // thin tables and messages name it by its node
      const table = (await dmsetup.table(o.thinPoolDev)).split(/\s+/);
      return new ThinPool(o.thinPoolDev, undefined, table[4], table[3], false, Number(table[5]) || st.lengthSectors);
    }
    const name = `${prefix}-pool`;
    let loop: (PoolFiles & { dataDevice: string; metadataDevice: string }) | undefined;
    let dataDevice = o.dataDev;
    let metadataDevice = o.metadataDev;
    if (!dataDevice || !metadataDevice) {
      const dataFile = join(home, 'devicemapper', 'data');
      const metadataFile = join(home, 'devicemapper', 'metadata');
      const freshMetadata = await ensureSparseFile(metadataFile, o.loopMetadataSize);
      if (freshMetadata) await zeroHeader(metadataFile); // a new pool formats zeroed metadata
      await ensureSparseFile(dataFile, o.loopDataSize);
      const dataLoop = (await findLoop(dataFile)) ?? (await attachLoop(dataFile));
      const metadataLoop = (await findLoop(metadataFile)) ?? (await attachLoop(metadataFile));
      loop = { dataFile, metadataFile, dataDevice: dataLoop, metadataDevice: metadataLoop };
      dataDevice = dataLoop;
      metadataDevice = metadataLoop;
    }
    const pool = new ThinPool(name, loop, dataDevice, metadataDevice, true, o.blockSizeSectors);
    const info = await dmsetup.info(name);
    if (info.exists && !info.liveTable) {
      // A process killed inside `dmsetup create` left the device without its table: make it again.
      await dmsetup.remove(name);
    }
    if (!info.exists || !info.liveTable) {
      await dmsetup.create(name, await pool.table());
    } else {
      // A process killed at the end of `dmsetup create` left it without its /dev/mapper node.
      await dmsetup.mknodes(name);
      // A process killed inside growIfNeeded left it suspended (the grown table loaded): resume.
      if (info.suspended) await dmsetup.resume(name);
      await pool.growIfNeeded();
    }
    return pool;
  }

  private async table(): Promise<string> {
    const sectors = Math.floor((await deviceSize(this.dataDevice)) / 512);
    return `0 ${sectors} thin-pool ${this.metadataDevice} ${this.dataDevice} ${this.blockSizeSectors} ${LOW_WATER_MARK_BLOCKS} 1 skip_block_zeroing`;
  }

  /** After the loop files were made larger: refresh the loop devices and reload the pool. */
  private async growIfNeeded(): Promise<void> {
    if (!this.loop) return;
    for (const dev of [this.loop.dataDevice, this.loop.metadataDevice]) await refreshLoopCapacity(dev);
    const st = await dmsetup.thinPoolStatus(this.name);
    const want = Math.floor((await deviceSize(this.dataDevice)) / 512);
    if (want > st.lengthSectors) {
      await dmsetup.suspend(this.name);
      try {
        await dmsetup.reload(this.name, await this.table());
      } finally {
        await dmsetup.resume(this.name);
      }
    }
  }

  status(): Promise<ThinPoolStatus> {
    return dmsetup.thinPoolStatus(this.name);
  }

  createThin(deviceId: number): Promise<void> {
    return dmsetup.message(this.devPath, `create_thin ${deviceId}`);
  }

  /** Snapshot of `originId`; an active origin must be suspended around it (the kernel's rule). */
  async createSnapshot(deviceId: number, originId: number, activeOrigin: string | undefined): Promise<void> {
    if (activeOrigin) await dmsetup.suspend(activeOrigin);
    try {
      await dmsetup.message(this.devPath, `create_snap ${deviceId} ${originId}`);
    } finally {
      if (activeOrigin) await dmsetup.resume(activeOrigin);
    }
  }

  /** Deletes a thin device; one that does not exist is not an error. */
  async deleteThin(deviceId: number): Promise<void> {
    try {
      await dmsetup.message(this.devPath, `delete ${deviceId}`);
    } catch (err) {
      if (err instanceof ToolError && /No data available|not exist|ENODATA/i.test(err.stderr)) return;
      throw err;
    }
  }

  setTransactionId(from: number, to: number): Promise<void> {
    return dmsetup.message(this.devPath, `set_transaction_id ${from} ${to}`);
  }

  thinTable(deviceId: number, sizeBytes: number): string {
    return `0 ${Math.floor(sizeBytes / 512)} thin ${this.devPath} ${deviceId}`;
  }

  /** Takes the pool down and detaches its loop devices (only a pool this driver made). */
  async close(): Promise<void> {
    if (!this.owned) return;
    await dmsetup.remove(this.name);
    if (this.loop) {
      await detachLoop(this.loop.dataDevice).catch(() => {});
      await detachLoop(this.loop.metadataDevice).catch(() => {});
    }
  }
}

/** Creates `path` sparse at `size`, or grows it; true when it was created. */
async function ensureSparseFile(path: string, size: number): Promise<boolean> {
  try {
    const st = await stat(path);
    if (st.size < size) await truncate(path, size);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await writeFile(path, '', { mode: 0o600 });
    await truncate(path, size);
    return true;
  }
}

async function zeroHeader(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(Buffer.alloc(4096), 0, 4096, 0);
  } finally {
    await fh.close();
  }
}

/** Size in bytes of a block device (or a file). */
async function deviceSize(path: string): Promise<number> {
  const st = await stat(path);
  if (!st.isBlockDevice()) return st.size;
  // Node cannot lseek(SEEK_END) a block device; sysfs has its size in sectors
  const name = (await realpath(path)).replace('/dev/', '');
  const sectors = Number((await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim());
  return sectors * 512;
}
