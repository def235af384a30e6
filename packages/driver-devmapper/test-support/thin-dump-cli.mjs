// The thin device ids a pool's metadata really holds, read with thin_dump (the pool must be down).
import { execFileSync } from 'node:child_process';

export function thinDeviceIdsOf(metadataFile) {
  const xml = execFileSync('thin_dump', [metadataFile], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return [...xml.matchAll(/<device dev_id="(\d+)"/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
}
