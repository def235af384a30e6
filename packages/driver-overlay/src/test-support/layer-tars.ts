// Small layer tars for the overlay tests, and reading a diff stream whole.
import type { Readable } from 'node:stream';
import { packEntries } from '@graphdriver/core';

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface SimpleEntry {
  name: string;
  type: 'directory' | 'file';
  mode: number;
  data?: string;
}

/** A layer tar of plain entries owned by root (as every image layer's are), all with one mtime. */
export function tarOf(entries: SimpleEntry[], mtime: number): Promise<Buffer> {
  return collect(
    packEntries(
      entries.map((e) => {
        const body = Buffer.from(e.data ?? '');
        return { header: { name: e.name, type: e.type, mode: e.mode, uid: 0, gid: 0, size: body.length, mtime }, body };
      }),
    ),
  );
}

/**
 * A parent layer and a Docker layer over it: a whiteout (etc/.wh.gone) and an opaque
 * directory (opq/) holding one old name again and a new one; `changes` is what the diff of
 * the two gives back (the opaque dir as a Delete per hidden name).
 */
export async function dockerWhiteoutLayers(): Promise<{ parent: Buffer; layer: Buffer; changes: string[] }> {
  const parent = await tarOf(
    [
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/keep', type: 'file', mode: 0o644, data: 'keep' },
      { name: 'etc/gone', type: 'file', mode: 0o644, data: 'gone' },
      { name: 'opq/', type: 'directory', mode: 0o755 },
      { name: 'opq/a', type: 'file', mode: 0o644, data: 'a' },
      { name: 'opq/b', type: 'file', mode: 0o644, data: 'b' },
      { name: 'opq/sub/', type: 'directory', mode: 0o755 },
      { name: 'opq/sub/c', type: 'file', mode: 0o644, data: 'c' },
    ],
    1_700_000_000,
  );
  const layer = await tarOf(
    [
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.gone', type: 'file', mode: 0 },
      { name: 'opq/', type: 'directory', mode: 0o755 },
      { name: 'opq/.wh..wh..opq', type: 'file', mode: 0 },
      { name: 'opq/a', type: 'file', mode: 0o644, data: 'a, new' },
      { name: 'opq/n', type: 'file', mode: 0o644, data: 'n' },
    ],
    1_700_000_100,
  );
  return { parent, layer, changes: ['C /etc', 'D /etc/gone', 'C /opq', 'C /opq/a', 'D /opq/b', 'A /opq/n', 'D /opq/sub'] };
}
