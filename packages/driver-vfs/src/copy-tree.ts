// The vfs copy engine: GNU cp, through core's typed tool wrapper.
//
// Measured against a Node walker (see README): cp -a keeps nanosecond atimes and mtimes
// (utimensat; Node's utimes goes through a double and loses them, which would make the
// naive diff report every copied file as modified), owners, modes, xattrs, hardlinks,
// device nodes, FIFOs and sockets; --reflink=auto clones extents on btrfs and xfs and
// falls back to copy_file_range elsewhere. As non-root it keeps the ownership it can and
// silently drops the rest (cp's rule for unprivileged users), which is what a rootless
// driver needs; entries it owns but cannot read are opened up for the copy (unreadable.ts).
import { constants as fsConstants } from 'node:fs';
import { copyFile, unlink, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { ErrorCode, GraphDriverError, tool, ToolError } from '@graphdriver/core';
import { restoreModes, widenUnreadable } from './unreadable.js';

const env = { LC_ALL: 'C', LANG: 'C' };
const cp = tool('cp', { env });
// `setpriv --pdeathsig KILL cp ...`: if the process driving the copy dies, cp dies with it
// instead of writing on into a temporary directory the next init is deleting.
const setpriv = tool('setpriv', { env });
let pdeathsig: Promise<boolean> | undefined;

export interface CopyOptions {
  /**
   * Fail when an xattr cannot be copied (cp's explicit --preserve=xattr). Plain `-a` drops
   * such failures silently, which as root would lose e.g. security.capability unnoticed.
   */
  strictXattrs: boolean;
}

function noSpace(err: ToolError): GraphDriverError | undefined {
  const m = /(No space left on device|Disk quota exceeded)/.exec(err.stderr);
  if (!m) return undefined;
  const code = m[1] === 'Disk quota exceeded' ? 'EDQUOT' : 'ENOSPC';
  return new GraphDriverError(ErrorCode.NoSpace, `copy: no space left (${code}): ${err.message}`, { cause: err });
}

/** Copies the tree `src` to `dst` (created, or an existing empty directory), root included. */
export async function copyTree(src: string, dst: string, opts: CopyOptions): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return copyAll(src, dst, opts);
  const widened = await widenUnreadable(src, uid);
  try {
    await copyAll(src, dst, opts);
    await restoreModes(dst, widened);
  } finally {
    await restoreModes(src, widened);
  }
}

async function copyAll(src: string, dst: string, opts: CopyOptions): Promise<void> {
  // cp names every entry by its path from the working directory and the kernel walks that
  // path again in each of the ~15 calls per entry: run it from the deepest directory above
  // both trees, with short relative names (home/dir/<parent> -> home/tmp/new-*: cwd home),
  // which saves several components per lookup (about 4% of cp's system time on the corpus).
  const from = resolve(src);
  const to = resolve(dst);
  const cwd = commonDir(from, to);
  const args = ['-a', '--reflink=auto', '--no-target-directory'];
  if (opts.strictXattrs) args.push('--preserve=xattr');
  args.push('--', relative(cwd, from) || '.', relative(cwd, to) || '.');
  try {
    if (await (pdeathsig ??= hasPdeathsig())) {
      await setpriv.run(['--pdeathsig', 'KILL', '--', cp.command, ...args], { cwd });
    } else {
      await cp.run(args, { cwd });
    }
  } catch (err) {
    throw (err instanceof ToolError && noSpace(err)) || err;
  }
}

/** The deepest directory holding both absolute paths (at least "/"). */
function commonDir(a: string, b: string): string {
  const x = a.split(sep);
  const y = b.split(sep);
  let n = 0;
  while (n < x.length - 1 && n < y.length - 1 && x[n] === y[n]) n++;
  return x.slice(0, n).join(sep) || sep;
}

/** util-linux's setpriv has --pdeathsig since 2.33; without it cp runs bare. */
async function hasPdeathsig(): Promise<boolean> {
  try {
    return (await setpriv.run(['--help'])).stdout.includes('--pdeathsig');
  } catch {
    return false;
  }
}

/** True when `dir`'s filesystem can clone file extents (FICLONE): btrfs, xfs with reflink=1. */
export async function probeReflink(dir: string): Promise<boolean> {
  const a = join(dir, `.reflink-probe-${process.pid}-a`);
  const b = join(dir, `.reflink-probe-${process.pid}-b`);
  try {
    await writeFile(a, 'probe');
    await copyFile(a, b, fsConstants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await unlink(a).catch(() => {});
    await unlink(b).catch(() => {});
  }
}
