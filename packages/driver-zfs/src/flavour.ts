// Which ZFS implementation answers the `zfs` command: OpenZFS (kernel module, /dev/zfs) or
// Debian's zfs-fuse (a FUSE daemon). Detected once at init; everything that differs between
// them is a capability here, read by the CLI wrapper.
import { existsSync } from 'node:fs';
import { tool, ToolError, type Tool } from '@graphdriver/core';

export type FlavourKind = 'openzfs' | 'zfs-fuse';

export interface Flavour {
  kind: FlavourKind;
  /** "2.1.11-1", "< 0.8" (no `zfs version`), or "0.7" for zfs-fuse. */
  version: string;
  /** `zfs list -p` (exact bytes). zfs-fuse: "invalid option 'p'". */
  listParsable: boolean;
  /** `zfs get -p`. Measured to work on zfs-fuse 0.7.0 too. */
  getParsable: boolean;
  /**
   * Layers get `mountpoint=legacy` and are mounted with `mount -t zfs` (as Docker does). zfs-fuse
   * cannot mount legacy datasets: layers get `mountpoint=none canmount=noauto` and are mounted
   * by setting the mountpoint property, then `zfs mount`.
   */
  legacyMount: boolean;
}

export function flavour(kind: FlavourKind, version = kind === 'zfs-fuse' ? '0.7' : 'unknown'): Flavour {
  return kind === 'openzfs'
    ? { kind, version, listParsable: true, getParsable: true, legacyMount: true }
    : { kind, version, listParsable: false, getParsable: true, legacyMount: false };
}

/** What `zfs version` did. */
export type VersionProbe =
  | { outcome: 'missing' }
  | { outcome: 'ok'; stdout: string }
  | { outcome: 'failed'; exitCode: number | undefined; stderr: string };

/**
 * Pure classification, so both implementations can be forced in unit tests.
 * - OpenZFS >= 0.8 has `zfs version` ("zfs-2.1.11-1\nzfs-kmod-2.1.11-1").
 * - zfs-fuse and OpenZFS < 0.8 say "unrecognized command 'version'"; only OpenZFS has /dev/zfs.
 * - zfs-fuse without its daemon: "Please make sure that the zfs-fuse daemon is running."
 * - OpenZFS without its module: "The ZFS modules are not loaded."
 */
export function classifyFlavour(probe: VersionProbe, devZfsExists: boolean): Flavour | { unavailable: string } {
  if (probe.outcome === 'missing') return { unavailable: 'the zfs command is not installed' };
  if (probe.outcome === 'ok') {
    const m = /^zfs-(?!kmod-)(\S+)/m.exec(probe.stdout);
    return flavour('openzfs', m ? m[1] : 'unknown');
  }
  const err = probe.stderr;
  if (/zfs-fuse daemon/i.test(err)) return { unavailable: 'the zfs-fuse daemon is not running' };
  if (/modules are not loaded|modprobe zfs/i.test(err)) return { unavailable: 'the ZFS kernel module is not loaded' };
  if (/unrecognized command/i.test(err)) return devZfsExists ? flavour('openzfs', '< 0.8') : flavour('zfs-fuse');
  return { unavailable: `zfs does not answer: ${err.trim() || `exit ${probe.exitCode}`}` };
}

export async function probeZfsVersion(zfs: Tool = tool('zfs')): Promise<VersionProbe> {
  try {
    const r = await zfs.run(['version'], { timeout: 30_000 });
    return { outcome: 'ok', stdout: r.stdout };
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    if ((err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return { outcome: 'missing' };
    return { outcome: 'failed', exitCode: err.exitCode, stderr: err.stderr };
  }
}

export async function detectFlavour(
  zfs: Tool = tool('zfs'),
  devZfsExists: () => boolean = () => existsSync('/dev/zfs'),
): Promise<Flavour | { unavailable: string }> {
  return classifyFlavour(await probeZfsVersion(zfs), devZfsExists());
}
