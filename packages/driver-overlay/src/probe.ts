// What moby's overlay2 checks before it trusts the kernel (check.go): that an overlay mounts
// here at all, and whether the upper dir tells the whole story of a layer's changes. With
// redirect_dir a renamed directory is recorded as an xattr pointing into a lower layer, and
// with metacopy a chmod copies up metadata only: the upper dir then lies, and diffs must
// compare the mounted trees (the naive diff).
import { mkdir, readFile, rename, chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteTree, errnoCode, readXattr } from '@graphdriver/core';
import type { Mounter } from './overlay-mount.js';

export interface ProbeResult {
  /** Why the native diff must not be used, or null when it can be. */
  naiveDiffReason: string | null;
}

/** Y/N module parameters of the kernel's overlay (absent: the feature does not exist). */
async function moduleParam(name: string): Promise<boolean> {
  try {
    return (await readFile(`/sys/module/overlay/parameters/${name}`, 'utf8')).trim() === 'Y';
  } catch {
    return false;
  }
}

/**
 * Mounts a small overlay in `dir` (a fresh directory on the home's filesystem, removed
 * afterwards) and tries a rename and a chmod of lower entries. Throws when the overlay does
 * not mount: the caller turns that into ERR_PREREQUISITES.
 */
export async function probeOverlay(dir: string, mounter: Mounter): Promise<ProbeResult> {
  const merged = join(dir, 'merged');
  for (const d of ['lower/dir', 'upper', 'work', 'merged']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'lower', 'file'), 'x');
  let mounted = false;
  try {
    await mounter.mount(dir, { lower: ['lower'], upper: 'upper', work: 'work' }, merged);
    mounted = true;
    const reasons: string[] = [];
    if (mounter.kind === 'kernel') {
      if (await moduleParam('redirect_dir')) reasons.push('redirect_dir is on (/sys/module/overlay/parameters/redirect_dir)');
      if (await moduleParam('metacopy')) reasons.push('metacopy is on (/sys/module/overlay/parameters/metacopy)');
    }
    // The mount itself, whatever the defaults say: a renamed lower directory and a chmod.
    try {
      await rename(join(merged, 'dir'), join(merged, 'renamed'));
      if (readXattr(join(dir, 'upper', 'renamed'), 'trusted.overlay.redirect') !== null) reasons.push('renamed directories are redirects');
    } catch (err) {
      if (errnoCode(err) !== 'EXDEV') throw err; // EXDEV: no redirect_dir, tools copy instead
    }
    await chmod(join(merged, 'file'), 0o600);
    if (readXattr(join(dir, 'upper', 'file'), 'trusted.overlay.metacopy') !== null) reasons.push('copy-ups are metadata only');
    return { naiveDiffReason: reasons.length ? [...new Set(reasons)].join('; ') : null };
  } finally {
    if (mounted) await mounter.unmount(merged).catch(() => {});
    await deleteTree(dir).catch(() => {});
  }
}
