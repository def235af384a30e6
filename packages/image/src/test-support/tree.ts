// How a tree an unpacker made is compared with one of our layers: core/testing's snapshotTree
// on both, then its compareTrees with these options (what two unpacks of one image agree on).
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { snapshotTree, type CompareOptions, type TreeSnapshot } from '@graphdriver/core/testing';
import { umoci } from './tools.js';

/**
 * compareTrees options for two unpacks of one image: every path below the root with its type,
 * mode, owners, content, link target, device number, xattrs, hardlinks and whole-second mtime
 * (not directories': unpackers touch them as they go).
 */
export const UNPACKED: CompareOptions = { mtime: 'seconds', mtimeOf: 'non-dirs', ignore: (path) => path === '/' };

/** {@link UNPACKED} for a rootless unpack: owners and device nodes left out (it can keep neither). */
export const ROOTLESS_UNPACKED: CompareOptions = { ...UNPACKED, owners: false, devices: false };

/** The tree `umoci unpack` makes of an image (`LAYOUT:TAG`), unpacked under `work`: the reference imports are compared with. */
export async function umociTree(work: string, image: string): Promise<TreeSnapshot> {
  const bundle = join(await mkdtemp(join(work, 'bundle-')), 'b');
  await umoci.unpack(image, bundle);
  const tree = await snapshotTree(join(bundle, 'rootfs'));
  await rm(bundle, { recursive: true, force: true });
  return tree;
}
