// moby's overlay2 Init: the kernel must have overlay, and the home's filesystem must be one
// that can hold an upper dir; anything else is "prerequisites not satisfied" or
// "incompatible filesystem", so that the registry moves on to the next driver. A plain
// user mounts through fuse-overlayfs (containers/storage's mount_program), which needs the
// program, fusermount3 and a /dev/fuse the user can open.
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import {
  createLayerDriver,
  errIncompatibleFS,
  errPrerequisites,
  errQuotaNotSupported,
  fsName,
  FsMagic,
  getFSMagic,
  makeDirs,
  ProjectQuota,
  type Driver,
  type IdMappings,
} from '@graphdriver/core';
import { nearestExisting } from '@graphdriver/core/linux';
import { OverlayBackend } from './backend.js';
import { parseOverlayOptions } from './options.js';
import { fuseMounter, fuseOverlayfs, fusermount, kernelMounter, type Mounter } from './overlay-mount.js';

/** The name this package registers the driver under (`newDriver('overlay2', …)`). */
export const name = 'overlay2';

/**
 * Filesystems overlay cannot take an upper dir from (moby: aufs, ecryptfs, nfs, overlay,
 * zfs), and FUSE ones (zfs-fuse): no trusted xattrs, no whiteout devices.
 */
const INCOMPATIBLE = new Set<number>([FsMagic.overlayfs, FsMagic.zfs, FsMagic.fuse, FsMagic.aufs, FsMagic.ecryptfs, FsMagic.nfs]);

async function kernelHasOverlay(): Promise<boolean> {
  try {
    return /\toverlay$/m.test(await readFile('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}

/** The mount program for this process, or why there is none. */
async function chooseMounter(): Promise<Mounter> {
  if (process.getuid?.() !== 0) {
    const missing: string[] = [];
    if (!(await fuseOverlayfs.available())) missing.push('fuse-overlayfs is not installed (Debian: fuse-overlayfs)');
    if (!(await fusermount.available(['-V']))) missing.push('fusermount3 is not installed (Debian: fuse3)');
    // libfuse opens /dev/fuse itself before it would ask fusermount3 (Debian's udev makes it 0666)
    if (
      !(await access('/dev/fuse', constants.R_OK | constants.W_OK).then(
        () => true,
        () => false,
      ))
    ) {
      missing.push('/dev/fuse cannot be opened read-write by this user (chmod 0666 /dev/fuse, as udev does)');
    }
    if (missing.length)
      throw errPrerequisites(name, `not running as root, and rootless overlay needs fuse-overlayfs: ${missing.join('; ')}`);
    return fuseMounter;
  }
  if (!(await kernelHasOverlay())) throw errPrerequisites(name, 'the kernel has no overlay filesystem (/proc/filesystems)');
  return kernelMounter();
}

export interface InitDeps {
  /** The mount program (tests give the kernel's extra options, e.g. redirect_dir=on). */
  mounter?: Mounter;
}

/** Checks the prerequisites and opens the driver over `home`, returning the backend too. */
export async function openOverlay(
  home: string,
  options: string[] = [],
  idMappings?: IdMappings,
  deps: InitDeps = {},
): Promise<{ driver: Driver; backend: OverlayBackend }> {
  const isRoot = process.getuid?.() === 0;
  const opts = parseOverlayOptions(options, isRoot);
  const probe = await nearestExisting(home);
  const magic = await getFSMagic(probe);
  if (INCOMPATIBLE.has(magic)) throw errIncompatibleFS(name, `${fsName(magic)} (${probe})`);
  const mounter = deps.mounter ?? (await chooseMounter());
  await makeDirs(home, 0o710);
  const quota = await ProjectQuota.probe(home);
  if (opts.defaultSize > 0 && !quota.supported) throw errQuotaNotSupported(`overlay2.size=${opts.defaultSize}: ${quota.reason}`);
  const backend = new OverlayBackend({
    home,
    mounter,
    whiteouts: mounter.kind === 'kernel' ? 'overlay' : 'overlay-files',
    quota: quota.supported ? quota.quota : { unsupported: quota.reason },
    defaultSize: opts.defaultSize,
    idMappings,
  });
  const driver = await createLayerDriver(home, backend, { idMappings, ignoreChownErrors: opts.ignoreChownErrors });
  return { driver, backend };
}

/**
 * Opens (making it if needed, mode 0710) the overlay2 store at `home`: every layer is an
 * overlay upper dir over its parents' dirs, mounted at `get`. Importing the package already
 * registers this under {@link name}; call it directly only to bypass the registry.
 *
 * As root it needs a kernel with overlay; as a plain user it mounts through fuse-overlayfs
 * and needs it, fusermount3 and a /dev/fuse the user can open. Else it throws
 * ERR_PREREQUISITES saying what is missing; a `home` on a
 * filesystem that cannot hold an upper dir (overlay, zfs, FUSE, aufs, ecryptfs, nfs) throws
 * ERR_INCOMPATIBLE_FS (either way the registry then tries the next driver). `options` are
 * `overlay2.size=<bytes>` (default quota of new layers; needs XFS project quotas under
 * `home`, else ERR_QUOTA_NOT_SUPPORTED) and `overlay2.ignore_chown_errors=<bool>`; a bad one
 * throws ERR_INVALID_OPTION. The driver owns `home` and its mounts until its `cleanup()`.
 */
export async function init(home: string, options: string[], idMappings?: IdMappings): Promise<Driver> {
  return (await openOverlay(home, options, idMappings)).driver;
}
