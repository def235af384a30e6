// The driver's own records (no device-mapper needed): what a process killed mid-write leaves.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceMetadata } from './metadata.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('device metadata', () => {
  // Found by the crash campaign (robustness.vm.suite.ts, seed 1 run 1): a kill between an atomic
  // write's temporary file and its rename left home/metadata/.tmp-* for good.
  it('sweeps the temporary files of interrupted atomic writes at open, in both directories', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'gd-dmmeta-')), 'metadata');
    dirs.push(dir);
    await mkdir(join(dir, 'devices'), { recursive: true });
    await writeFile(join(dir, 'deviceset.json'), JSON.stringify({ nextDeviceId: 3 }));
    await writeFile(join(dir, '.tmp-4242-0123456789ab'), '{"id":"x","dev');
    await writeFile(join(dir, 'devices', 'a.json'), JSON.stringify({ id: 'a', deviceId: 2, size: 1 }));
    await writeFile(join(dir, 'devices', '.tmp-4242-ba9876543210'), '{"id":"b"');

    const meta = new DeviceMetadata(dir);
    await meta.init();
    expect((await readdir(dir)).sort()).toEqual(['devices', 'deviceset.json']);
    expect(await readdir(join(dir, 'devices'))).toEqual(['a.json']);
    expect((await meta.allDevices()).map((d) => d.id)).toEqual(['a']);
    expect((await meta.deviceSet()).nextDeviceId).toBe(3);
  });
});
