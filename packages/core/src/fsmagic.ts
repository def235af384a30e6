// Filesystem magic numbers (statfs f_type): moby's table plus containers/storage's additions.
import { statfs } from 'node:fs/promises';

/**
 * statfs `f_type` numbers by filesystem name ("btrfs", "xfs", "overlayfs", "extfs" for ext2/3/4,
 * "unsupported" for 0), as moby's table, for drivers to test what backs their home.
 */
export const FsMagic: Readonly<Record<string, number>> = Object.freeze({
  unsupported: 0x0,
  aufs: 0x61756673,
  btrfs: 0x9123683e,
  cramfs: 0x28cd3d45,
  ecryptfs: 0xf15f,
  extfs: 0xef53,
  f2fs: 0xf2f52010,
  gpfs: 0x47504653,
  jffs2: 0x72b6,
  jfs: 0x3153464a,
  nfs: 0x6969,
  ramfs: 0x858458f6,
  reiserfs: 0x52654973,
  smb: 0x517b,
  squashfs: 0x73717368,
  tmpfs: 0x01021994,
  vxfs: 0xa501fcf5,
  xfs: 0x58465342,
  zfs: 0x2fc12fc1,
  overlayfs: 0x794c7630,
  fuse: 0x65735546,
  // containers/storage additions
  acfs: 0x61636673,
  afs: 0x5346414f,
  ceph: 0x00c36400,
  cifs: 0xff534d42,
  erofs: 0xe0f5e1e2,
  fhgfs: 0x19830326,
  ibrix: 0x013111a8,
  kafs: 0x6b414653,
  lustre: 0x0bd00bd0,
  ncp: 0x564c,
  nfsd: 0x6e667364,
  ocfs2: 0x7461636f,
  panfs: 0xaad7aaea,
  prlfs: 0x7c7c6673,
  smb2: 0xfe534d42,
  snfs: 0xbeefdead,
  vboxsf: 0x786f4256,
});

/** Magic number -> filesystem name, as in moby's FsNames. */
export const fsNames: ReadonlyMap<number, string> = new Map(Object.entries(FsMagic).map(([name, magic]) => [magic, name] as const));

/** statfs(2) f_type of the filesystem holding `path`, as an unsigned 32-bit number. */
export async function getFSMagic(path: string): Promise<number> {
  const s = await statfs(path);
  return Number(s.type) >>> 0;
}

/** Human name of a magic number ("btrfs"), or its hex form when unknown. */
export function fsName(magic: number): string {
  return fsNames.get(magic >>> 0) ?? `0x${(magic >>> 0).toString(16)}`;
}
