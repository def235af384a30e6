// applyLayer over reused read buffers (fs/file-chunks.ts): the reader and the applier must
// copy out whatever they keep once they ask for the next chunk. Each archive is applied from
// tiny chunks that all lie in ONE reused buffer (each read overwrites the last), so any
// header, GNU long name, PAX record or file piece kept across a chunk boundary would come
// out as the next chunk's bytes; the tree must equal the one applied from the whole archive
// in one fresh buffer.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileChunks } from '../fs/file-chunks.js';
import { type PyEntry, pyTar, tmpDir } from '../test-support/apply-fixtures.js';
import { compareTrees, snapshotTree, type TreeSnapshot } from '../testing/fixtures.js';
import { applyLayer } from './apply.js';

const long = (tag: string, n: number) => `${tag}-${'n'.repeat(n)}`.slice(0, n);
const mid = `d/${long('sub', 120)}`;
const deep = `${mid}/${long('more', 90)}`;

function entries(): PyEntry[] {
  return [
    { name: 'd', type: 'dir', mode: 0o750 },
    { name: mid, type: 'dir' },
    { name: deep, type: 'dir' },
    ...[0, 1, 100, 511, 512, 513, 1000, 1537, 5000, 70_001].map((bytes) => ({ name: `d/f${bytes}`, bytes, mode: 0o640 })),
    { name: `${deep}/${long('file', 200)}`, data: 'long name data', mtime: 1_600_000_123 },
    { name: `d/${long('link', 150)}`, type: 'symlink' as const, linkname: `${deep}/${long('target', 180)}` },
    { name: `d/${long('hard', 140)}`, type: 'link' as const, linkname: 'd/f1000' },
    { name: 'd/paxed', data: 'p'.repeat(700), pax: { 'SCHILY.xattr.user.one': 'a'.repeat(300), 'SCHILY.xattr.user.two': 'b' } },
    { name: 'd/timed', data: 't', pax: { mtime: '1500000000.123456789', comment: 'c'.repeat(1500) } },
  ];
}

let dir = '';
const tars: Record<'pax' | 'gnu', string> = { pax: '', gnu: '' };

beforeAll(async () => {
  dir = await tmpDir('gd-apply-pooled-');
  for (const format of ['pax', 'gnu'] as const) tars[format] = await pyTar(join(dir, `${format}.tar`), entries(), format);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function applied(name: string, layer: AsyncIterable<Uint8Array>): Promise<TreeSnapshot> {
  const dest = join(dir, name);
  await applyLayer(dest, layer);
  return snapshotTree(dest, { symlinkXattrs: true });
}

// Everything but the root, which is made "now": content, modes, owners, xattrs, links, and
// every entry's time to the nanosecond the archive gives.
const differences = (expected: TreeSnapshot, got: TreeSnapshot) =>
  compareTrees(expected, got, { mtime: 'ns', mtimeOf: 'all', ignore: (p) => p === '/' });

async function* whole(path: string): AsyncGenerator<Buffer> {
  yield fs.readFileSync(path);
}

describe('applyLayer over one reused read buffer', () => {
  for (const format of ['pax', 'gnu'] as const) {
    it(`${format}: headers, long names, PAX records and files straddling chunks come out whole`, async () => {
      const expected = await applied(`${format}-whole`, whole(tars[format]));
      // The archive's own content, so that the comparisons below compare something.
      const long200 = `${deep}/${long('file', 200)}`;
      expect(fs.readFileSync(join(dir, `${format}-whole`, long200), 'utf8')).toBe('long name data');
      expect(fs.readlinkSync(join(dir, `${format}-whole`, `d/${long('link', 150)}`))).toBe(`${deep}/${long('target', 180)}`);
      expect(fs.statSync(join(dir, `${format}-whole`, 'd/f70001')).size).toBe(70_001);
      if (format === 'pax') expect(Object.keys(expected.get('/d/paxed')?.xattrs ?? {})).not.toEqual([]);
      for (const chunkSize of [1, 7, 100, 511, 512, 513, 1000, 4099, 65_535, 65_536, 70_000]) {
        const got = await applied(`${format}-${chunkSize}`, fileChunks(tars[format], 0, Infinity, { chunkSize, reuse: 1 }));
        expect(differences(expected, got), `chunks of ${chunkSize} bytes`).toEqual([]);
      }
    });
  }

  it('files straddling the 1 MiB reads of a plain fs.createReadStream (the default path)', async () => {
    // ~300 KB files: most cross a 1 MiB read boundary, several reads in.
    const big: PyEntry[] = Array.from({ length: 14 }, (_, i) => ({ name: `f${i}`, bytes: 299_993 + i * 37 }));
    big.push({ name: long('after', 250), data: 'end', pax: { comment: 'x'.repeat(3000) } });
    const tar = await pyTar(join(dir, 'big.tar'), big, 'pax');
    const expected = await applied('big-whole', whole(tar));
    expect(differences(expected, await applied('big-stream', fs.createReadStream(tar)))).toEqual([]);
  });
});
