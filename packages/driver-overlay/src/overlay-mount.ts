// Mounting and unmounting overlays. The mount options name the lower dirs relative to the
// home ("l/SHORT"), and the mount program runs with the home as its working directory: so
// a chain of 128 layers fits the one page the kernel reads options from (moby does the
// same with its mountfrom helper).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errInvalidOption, tool, type Tool } from '@graphdriver/core';

const mountTool = tool('mount', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 60_000 });
const umountTool = tool('umount', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 60_000 });
export const fusermount = tool('fusermount3', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 60_000 });
export const fuseOverlayfs = tool('fuse-overlayfs', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 60_000 });

/** The kernel copies mount options from one page. */
const PAGE_SIZE = 4096;

export interface OverlayDirs {
  /** Relative to `cwd`, nearest parent first. */
  lower: string[];
  upper: string;
  work: string;
}

export function overlayOptions(dirs: OverlayDirs, extra: readonly string[] = []): string {
  const opts = [`lowerdir=${dirs.lower.join(':')}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`, ...extra].join(',');
  if (Buffer.byteLength(opts) >= PAGE_SIZE) {
    throw errInvalidOption(
      `overlay mount options for ${dirs.lower.length} lower layers are ${Buffer.byteLength(opts)} bytes, over the kernel's ${PAGE_SIZE}: the chain is too deep`,
    );
  }
  return opts;
}

/** Kernel overlay options to add where the kernel has them (moby: index=off). */
export function kernelExtraOptions(): string[] {
  return existsSync('/sys/module/overlay/parameters/index') ? ['index=off'] : [];
}

export interface Mounter {
  readonly kind: 'kernel' | 'fuse';
  readonly tool: Tool;
  mount(cwd: string, dirs: OverlayDirs, target: string): Promise<void>;
  unmount(target: string): Promise<void>;
}

/** The kernel's overlay through mount(8); `extra` options after moby's (tests turn features on with it). */
export function kernelMounter(extra: readonly string[] = []): Mounter {
  return {
    kind: 'kernel',
    tool: mountTool,
    async mount(cwd, dirs, target) {
      const opts = overlayOptions(dirs, [...kernelExtraOptions(), ...extra]);
      await mountTool.run(['-t', 'overlay', 'overlay', '-o', opts, target], { cwd });
    },
    async unmount(target) {
      try {
        await umountTool.run([target]);
      } catch (err) {
        // Busy (a process still has it open): detach it, as moby's Put always does.
        if (!/busy/i.test(String((err as Error).message))) throw err;
        await umountTool.run(['-l', target]);
      }
    },
  };
}

/**
 * fuse-overlayfs, for a plain user: it reads its options from argv (no page limit) and opens
 * the layers before it daemonizes, so the same relative "l/SHORT" dirs work from the home
 * (no layer id, which may hold "," or ":", is in the options). fusermount3 unmounts.
 */
export const fuseMounter: Mounter = {
  kind: 'fuse',
  tool: fuseOverlayfs,
  async mount(cwd, dirs, target) {
    // fast_ino=1: each name takes its inode from the layer it is in. Without it, 1.10 follows
    // a copied-up file's origin xattr to its lower inode and, at the next mount, shows the
    // lower content for every name hardlinked to it there (the upper file is ignored); with
    // it, copy-up breaks the link as the kernel's overlay (index=off) does.
    const opts = ['fast_ino=1', `lowerdir=${dirs.lower.join(':')}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`].join(',');
    await fuseOverlayfs.run(['-o', opts, target], { cwd });
  },
  async unmount(target) {
    await fusermount.run(['-u', target]).catch(async (err) => {
      if (!/busy/i.test(String((err as Error).message))) throw err;
      await fusermount.run(['-u', '-z', target]);
    });
  },
};

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points at or below `dir` with their fs type, innermost (latest) last. */
export async function mountsBelow(dir: string): Promise<Array<{ mountpoint: string; fstype: string }>> {
  const root = resolve(dir);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: Array<{ mountpoint: string; fstype: string }> = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (fields.length < 5 || sep < 0) continue;
    const mp = unescapeMountPath(fields[4]);
    if (mp === root || mp.startsWith(root + '/')) out.push({ mountpoint: mp, fstype: fields[sep + 1] ?? '' });
  }
  return out;
}

export async function isMountPoint(path: string): Promise<boolean> {
  const p = resolve(path);
  return (await mountsBelow(p)).some((m) => m.mountpoint === p);
}
