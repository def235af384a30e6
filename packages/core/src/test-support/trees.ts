// Helpers for the diff tests (changes, size, export, interop): small trees with every kind
// of entry. Not part of the package API.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lutimesSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import type { Change } from '../driver.js';
import { formatChange } from '../driver.js';
import { requireBackingSystem } from '../testing/backing-system.js';

/** Root-only cases (owners, device nodes, trusted.* xattrs) run as root; elsewhere core's rule skips them loudly (CI fails). */
export const isRoot = requireBackingSystem("the diff tests' root-only cases", process.getuid?.() === 0 ? null : 'needs root');

/** A fixed, whole-second time (2023-11-14T22:13:20Z) so expected mtimes are exact. */
export const T0 = 1_700_000_000;

export function tmp(prefix = 'gd-diff-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function rmrf(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer } = {},
): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

export function mustRun(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer } = {},
): { stdout: string; stderr: string } {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

/** `cp -a`: the copy keeps modes, owners, nanosecond times, xattrs and hardlinks. */
export function copyTree(src: string, dst: string): void {
  mustRun('cp', ['-a', src, dst]);
}

export function file(
  root: string,
  rel: string,
  content: string | Buffer = '',
  opts: { mode?: number; mtime?: number; uid?: number; gid?: number } = {},
): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  if (opts.mode !== undefined) chmodSync(p, opts.mode);
  if (opts.uid !== undefined || opts.gid !== undefined) chownSync(p, opts.uid ?? 0, opts.gid ?? 0);
  utimesSync(p, opts.mtime ?? T0, opts.mtime ?? T0);
  return p;
}

export function dir(root: string, rel: string, opts: { mode?: number; mtime?: number; uid?: number; gid?: number } = {}): string {
  const p = join(root, rel);
  mkdirSync(p, { recursive: true });
  if (opts.mode !== undefined) chmodSync(p, opts.mode);
  if (opts.uid !== undefined || opts.gid !== undefined) chownSync(p, opts.uid ?? 0, opts.gid ?? 0);
  utimesSync(p, opts.mtime ?? T0, opts.mtime ?? T0);
  return p;
}

export function symlink(root: string, rel: string, target: string, mtime = T0): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  symlinkSync(target, p);
  lutimesSync(p, mtime, mtime);
  return p;
}

/** mknod through the coreutils tool (Node has no mknod): type 'c', 'b' or 'p'. */
export function mknod(root: string, rel: string, type: 'c' | 'b' | 'p', major = 0, minor = 0, mode = 0o644, mtime = T0): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  mustRun('mknod', ['-m', mode.toString(8), p, type, ...(type === 'p' ? [] : [String(major), String(minor)])]);
  utimesSync(p, mtime, mtime);
  return p;
}

/**
 * A unix socket file left on disk, made by python3: gate the caller on
 * `requireBackingSystem(..., missingPrograms(['python3']))`.
 */
export function socketFile(root: string, rel: string): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  mustRun('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', p]);
}

export function xattr(p: string, name: string, value: Buffer | string): void {
  setAttributeSync(p, name, value);
}

/** A valid VFS_CAP_REVISION_2 security.capability value (20 bytes) with `permitted` caps. */
export function capV2(permitted: number, effective = true): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000000 | (effective ? 1 : 0), 0);
  b.writeUInt32LE(permitted >>> 0, 4);
  return b;
}

/** A VFS_CAP_REVISION_3 value (24 bytes: v2 + the namespace root uid). */
export function capV3(permitted: number, rootid: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0x03000000 | 1, 0);
  b.writeUInt32LE(permitted >>> 0, 4);
  b.writeUInt32LE(rootid >>> 0, 20);
  return b;
}

/** Docker's textual form, for readable expectations: ["C /etc", "A /etc/x"]. */
export function show(changes: Change[]): string[] {
  return changes.map(formatChange);
}

/** Sets every mtime/atime under `root` (root included, symlinks themselves) to `mtime`. */
export function settle(root: string, mtime = T0): void {
  mustRun('find', [root, '-depth', '-exec', 'touch', '-h', '-d', `@${mtime}`, '{}', '+']);
}
