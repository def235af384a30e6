// Writes a tar archive of files (an oci-archive's layout, a docker-archive's members) next to
// its destination and renames it into place: a reader never sees half an archive. Headers are
// fixed (mode 0644, owner 0, the given time), so the same files give the same archive.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { packEntries, type PackEntry } from '@graphdriver/core';
import { tempPathFor } from '@graphdriver/core/linux';

export type ArchiveMember = { name: string; dir: true } | { name: string; bytes: Buffer } | { name: string; path: string };

export async function writeArchive(
  file: string,
  members: readonly ArchiveMember[],
  opts: { mtime?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const mtime = opts.mtime ?? 0;
  async function* entries(): AsyncGenerator<PackEntry> {
    for (const m of members) {
      const base = { mode: 0o644, uid: 0, gid: 0, mtime };
      if ('dir' in m) yield { header: { ...base, name: m.name, type: 'directory', mode: 0o755, size: 0 } };
      else if ('bytes' in m) yield { header: { ...base, name: m.name, type: 'file', size: m.bytes.length }, body: m.bytes };
      else {
        const { size } = await stat(m.path);
        yield { header: { ...base, name: m.name, type: 'file', size }, body: createReadStream(m.path, { highWaterMark: 1 << 20 }) };
      }
    }
  }
  const tmp = tempPathFor(file);
  try {
    await pipeline(packEntries(entries()), createWriteStream(tmp, { mode: 0o644 }), { signal: opts.signal });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
