// graphtest's testutil, over our Driver: write and check files inside layers, many at a
// time, and make the changes the Changes and DiffApply cases expect. Every get is
// matched by a put, also on failure.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, utimes, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ChangeKind, formatChange, type Change, type Driver } from '../driver.js';
import { randomContent } from './fixtures.js';

/** Runs `fn` with layer `id` got, putting it back whatever happens. */
export async function withLayer<T>(driver: Driver, id: string, fn: (root: string) => Promise<T>): Promise<T> {
  const root = await driver.get(id);
  try {
    return await fn(root);
  } finally {
    await driver.put(id);
  }
}

/** Writes `content` to `name` (relative, parents made) in layer `id`, mode `mode`, with the layer got and put back. */
export async function addFile(driver: Driver, id: string, name: string, content: string | Buffer, mode = 0o755): Promise<void> {
  await withLayer(driver, id, async (root) => {
    const p = join(root, name);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
    await chmod(p, mode);
  });
}

/** The bytes of `name` (relative) in layer `id`, read with the layer got and put back. */
export async function readLayerFile(driver: Driver, id: string, name: string): Promise<Buffer> {
  return withLayer(driver, id, (root) => readFile(join(root, name)));
}

/** Deletes each of `names` (relative; trees too, missing ones ignored) from layer `id`. */
export async function removeAll(driver: Driver, id: string, ...names: string[]): Promise<void> {
  await withLayer(driver, id, async (root) => {
    for (const n of names) await rm(join(root, n), { recursive: true, force: true });
  });
}

/** `count` files of 64 bytes in directories of 100: /directory-<i>/file-<i+j>. */
export async function addManyFiles(driver: Driver, id: string, count: number, seed: number, size = 64): Promise<void> {
  await withLayer(driver, id, async (root) => {
    for (let i = 0; i < count; i += 100) {
      const dir = join(root, `directory-${i}`);
      await mkdir(dir, { recursive: true });
      for (let j = 0; i + j < count && j < 100; j++) {
        await writeFile(join(dir, `file-${i + j}`), randomContent(size, seed + i + j), { mode: 0o755 });
      }
    }
  });
}

/** Throws naming the first file whose content is not what addManyFiles(count, seed, size) wrote. */
export async function checkManyFiles(driver: Driver, id: string, count: number, seed: number, size = 64): Promise<void> {
  await withLayer(driver, id, async (root) => {
    for (let i = 0; i < count; i += 100) {
      for (let j = 0; i + j < count && j < 100; j++) {
        const name = `directory-${i}/file-${i + j}`;
        const got = await readFile(join(root, name));
        if (!got.equals(randomContent(size, seed + i + j))) throw new Error(`${id}: ${name} has unexpected content`);
      }
    }
  });
}

/**
 * graphtest's changeManyFiles: in each /directory-<i>, file j%3==0 is rewritten, j%3==1
 * gets a new sibling, j%3==2 is deleted. Returns the changes that makes. Rewrites keep the
 * size (as graphtest's do), so their mtime is moved to a fixed past second: a naive diff
 * must see them by mtime, and must not depend on the clock ticking between two writes.
 */
export async function changeManyFiles(driver: Driver, id: string, count: number, seed: number): Promise<Change[]> {
  const changes: Change[] = [];
  await withLayer(driver, id, async (root) => {
    for (let i = 0; i < count; i += 100) {
      const dirRel = `/directory-${i}`;
      await mkdir(join(root, dirRel), { recursive: true });
      for (let j = 0; i + j < count && j < 100; j++) {
        if (j === 0) changes.push({ path: dirRel, kind: ChangeKind.Modify });
        switch (j % 3) {
          case 0: {
            const rel = `${dirRel}/file-${i + j}`;
            await writeFile(join(root, rel), randomContent(64, seed + i + j), { mode: 0o755 });
            await utimes(join(root, rel), 1_000_000_000, 1_000_000_000 + i + j);
            changes.push({ path: rel, kind: ChangeKind.Modify });
            break;
          }
          case 1: {
            const rel = `${dirRel}/file-${seed}-${i + j}`;
            await writeFile(join(root, rel), randomContent(64, seed + i + j), { mode: 0o755 });
            changes.push({ path: rel, kind: ChangeKind.Add });
            break;
          }
          case 2: {
            const rel = `${dirRel}/file-${i + j}`;
            await rm(join(root, rel));
            changes.push({ path: rel, kind: ChangeKind.Delete });
            break;
          }
        }
      }
    }
  });
  return changes;
}

/** graphtest's addLayerFiles: /top-id and /layer-<i>/{layer-id,parent-id}. */
export async function addLayerFiles(driver: Driver, id: string, parent: string, i: number): Promise<void> {
  await withLayer(driver, id, async (root) => {
    await writeFile(join(root, 'top-id'), id);
    await mkdir(join(root, `layer-${i}`), { recursive: true });
    await writeFile(join(root, `layer-${i}`, 'layer-id'), id);
    await writeFile(join(root, `layer-${i}`, 'parent-id'), parent);
  });
}

/** Walks /layer-<count>..1 from the top layer down, checking each names its own layer and parent. */
export async function checkManyLayers(driver: Driver, top: string, count: number): Promise<void> {
  await withLayer(driver, top, async (root) => {
    let expected = await readFile(join(root, 'top-id'), 'utf8');
    if (expected !== top) throw new Error(`top-id is ${expected}, expected ${top}`);
    for (let i = count; i > 0; i--) {
      const layerId = await readFile(join(root, `layer-${i}`, 'layer-id'), 'utf8');
      if (layerId !== expected) throw new Error(`layer-${i}/layer-id is ${layerId}, expected ${expected}`);
      expected = await readFile(join(root, `layer-${i}`, 'parent-id'), 'utf8');
    }
  });
}

/** A fresh random layer id, as stringid.GenerateRandomID. */
export function randomId(): string {
  return randomBytes(32).toString('hex');
}

/** Sorted Docker-style lines ("A /x") of a change list, for exact comparisons. */
export function sortedChanges(changes: readonly Change[]): string[] {
  return [...changes].sort((a, b) => (a.path === b.path ? a.kind - b.kind : a.path < b.path ? -1 : 1)).map(formatChange);
}
