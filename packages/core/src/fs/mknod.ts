// Device nodes and FIFOs. Node has no mknod(2), so this shells out to coreutils `mknod`
// through core's typed tool wrapper; failures are ToolErrors, and `mknodErrno` recovers
// the errno from the (C-locale) message for callers that must tell EEXIST/EPERM apart.
import { tool, ToolError } from '../exec.js';

export type SpecialType = 'char' | 'block' | 'fifo';

const mknodTool = tool('mknod', { env: { LC_ALL: 'C', LANG: 'C' }, timeout: 30_000 });

const typeLetter: Record<SpecialType, string> = { char: 'c', block: 'b', fifo: 'p' };

function devNumber(n: number | undefined, what: string): string {
  const v = n ?? 0;
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`invalid device ${what} ${n}`);
  return String(v);
}

/**
 * Creates a char/block device or FIFO at `path` with permission bits `mode` (default 0600).
 * Like mknod(2) it never follows a symlink at `path`: an existing name fails with EEXIST.
 */
export async function mknod(path: string, type: SpecialType, opts: { mode?: number; major?: number; minor?: number } = {}): Promise<void> {
  const mode = (opts.mode ?? 0o600) & 0o7777;
  const args = ['-m', mode.toString(8), '--', path, typeLetter[type]];
  if (type !== 'fifo') args.push(devNumber(opts.major, 'major'), devNumber(opts.minor, 'minor'));
  await mknodTool.run(args);
}

const messages: Array<[RegExp, string]> = [
  [/Operation not permitted/i, 'EPERM'],
  [/Permission denied/i, 'EACCES'],
  [/File exists/i, 'EEXIST'],
  [/No space left/i, 'ENOSPC'],
  [/quota exceeded/i, 'EDQUOT'],
  [/File name too long/i, 'ENAMETOOLONG'],
  [/No such file or directory/i, 'ENOENT'],
  [/Not a directory/i, 'ENOTDIR'],
  [/Read-only file system/i, 'EROFS'],
  // a device number the kernel cannot hold (major > 4095, say): the archive's fault
  [/Invalid argument/i, 'EINVAL'],
];

/** The errno name behind a failed `mknod` run, when its message names one. */
export function mknodErrno(err: unknown): string | undefined {
  if (!(err instanceof ToolError)) return undefined;
  for (const [re, code] of messages) if (re.test(err.stderr)) return code;
  return undefined;
}
