// The thin device ids a pool's metadata really holds, read with thin_dump (the pool must be
// down). thin_dump opens with O_DIRECT, which tmpfs refuses, so the file is read through a
// read-only loop device.
import { execFileSync } from 'node:child_process';

export function thinDeviceIdsOf(metadataFile) {
  const loop = execFileSync('losetup', ['-r', '-f', '--show', metadataFile], { encoding: 'utf8' }).trim();
  try {
    const xml = execFileSync('thin_dump', [loop], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return [...xml.matchAll(/<device dev_id="(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  } finally {
    execFileSync('losetup', ['-d', loop]);
  }
}
