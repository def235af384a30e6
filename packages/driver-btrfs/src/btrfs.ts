// The one typed wrapper around btrfs-progs (`btrfs ...`), built on core's tool(): every
// failure carries the command line, exit code and stderr.
//
// Docker talks to the kernel through ioctls (SUBVOL_CREATE, SNAP_CREATE_V2, SNAP_DESTROY,
// QGROUP_LIMIT, INO_LOOKUP ...). From Node that would need a native addon; a btrfs-progs call
// costs ~3 ms here, which only matters on the native diff's path (a handful of calls per
// diff). Where an ioctl would clearly be better it is said at the call.
import { tool, type Tool } from '@graphdriver/core';

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface SubvolumeInfo {
  /** Path relative to the filesystem's top-level subvolume (first line of `subvolume show`). */
  path: string;
  name: string;
  uuid: string | null;
  parentUuid: string | null;
  receivedUuid: string | null;
  id: number;
  generation: number;
  readonly: boolean;
}

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface SubvolumeListEntry {
  id: number;
  generation: number;
  topLevel: number;
  /** Relative to the filesystem's top-level subvolume, not to the mount point. */
  path: string;
  /** With `details`: the transaction that made the subvolume (`cgen`, the root's otransid). */
  cgen?: number;
  /** With `details`: its UUID, and the UUID of the subvolume it is a snapshot of (null: none). */
  uuid?: string | null;
  parentUuid?: string | null;
}

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface QgroupInfo {
  /** "0/257" */
  qgroupid: string;
  referenced: number;
  exclusive: number;
  /** Bytes, or null for "none". */
  maxReferenced: number | null;
  maxExclusive: number | null;
}

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface FilesystemShow {
  label: string | null;
  uuid: string;
  devices: Array<{ devid: number; size: number; used: number; path: string }>;
}

/**
 * `btrfs filesystem usage -b` "Overall" block, keys as printed ("Device size", "Used", ...).
 *
 * @internal Not public API: exported only for the crash tests' child process, which loads the built package.
 */
export type FilesystemUsage = Record<string, number>;

/** @internal Not public API: exported only for the crash tests' child process, which loads the built package. */
export interface Btrfs {
  readonly tool: Tool;
  version(): Promise<string>;
  available(): Promise<boolean>;

  subvolumeCreate(path: string): Promise<void>;
  subvolumeSnapshot(source: string, dest: string, opts?: { readonly?: boolean }): Promise<void>;
  /** Deletes one subvolume; nested subvolumes must be gone first (no recursive flag in 6.2). */
  subvolumeDelete(path: string): Promise<void>;
  subvolumeShow(path: string): Promise<SubvolumeInfo>;
  /**
   * `subvolume list [-o] path`: with onlyBelow, the subvolumes whose parent is the one at `path`;
   * with details (`-c -u -q`), each one's cgen, uuid and parent uuid too.
   */
  subvolumeList(path: string, opts?: { onlyBelow?: boolean; details?: boolean }): Promise<SubvolumeListEntry[]>;
  /** `filesystem sync`: commits the running transaction of the filesystem holding `path`, if any. */
  filesystemSync(path: string): Promise<void>;

  quotaEnable(path: string): Promise<void>;
  quotaDisable(path: string): Promise<void>;
  /** Starts a rescan; with wait, returns when it is done. */
  quotaRescan(path: string, opts?: { wait?: boolean }): Promise<void>;
  /** True when quotas are enabled on the filesystem holding `path`. */
  quotaEnabled(path: string): Promise<boolean>;
  qgroupCreate(qgroupid: string, path: string): Promise<void>;
  qgroupDestroy(qgroupid: string, path: string): Promise<void>;
  /** Limits the referenced bytes of the subvolume at `path` (null: no limit). */
  qgroupLimit(size: number | null, path: string): Promise<void>;
  qgroupShow(path: string, opts?: { onlyOf?: boolean }): Promise<QgroupInfo[]>;

  filesystemShow(path: string): Promise<FilesystemShow>;
  filesystemUsage(path: string): Promise<FilesystemUsage>;

  /** `send --no-data [-p parent] subvol -f out`: the stream lands in file `out`. */
  send(subvol: string, out: string, opts?: { parent?: string; noData?: boolean }): Promise<void>;
  /**
   * `send [--no-data] [-p parent] subvol` into a pipe: each chunk of the stream goes to
   * `onData` as it comes (nothing is written to disk). An exception thrown by `onData`, or
   * `signal`, stops the process and rejects.
   */
  sendTo(
    subvol: string,
    onData: (chunk: Buffer) => void,
    opts?: { parent?: string; noData?: boolean; signal?: AbortSignal },
  ): Promise<void>;
  /** `receive --dump -f file`: the stream as text (for comparison with the binary parser). */
  receiveDump(file: string): Promise<string>;
  /** All paths (relative to `subvol`) of inode `ino` in the subvolume at `subvol`. */
  inodeResolve(ino: bigint | number, subvol: string): Promise<string[]>;
  /** Id of the subvolume holding `path`. */
  rootId(path: string): Promise<number>;
}

const nullable = (v: string | undefined): string | null => (v === undefined || v === '-' ? null : v);

/** Parses `btrfs subvolume show` output. */
export function parseSubvolumeShow(text: string): SubvolumeInfo {
  const lines = text.split('\n');
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const m = /^\s+([A-Za-z][A-Za-z ()]*?):\s*(.*)$/.exec(line);
    if (m) fields.set(m[1], m[2].trim());
  }
  const num = (k: string) => Number(fields.get(k) ?? NaN);
  return {
    path: lines[0].trim(),
    name: fields.get('Name') ?? '',
    uuid: nullable(fields.get('UUID')),
    parentUuid: nullable(fields.get('Parent UUID')),
    receivedUuid: nullable(fields.get('Received UUID')),
    id: num('Subvolume ID'),
    generation: num('Generation'),
    readonly: /\breadonly\b/.test(fields.get('Flags') ?? ''),
  };
}

/**
 * Parses `btrfs subvolume list` lines: "ID 256 gen 7 top level 5 path home/a", and with
 * `-c -u -q` "ID 257 gen 9 cgen 8 top level 5 parent_uuid <uuid or -> uuid <uuid> path home/b"
 * (btrfs-progs pads a "-" parent_uuid with spaces).
 */
export function parseSubvolumeList(text: string): SubvolumeListEntry[] {
  const out: SubvolumeListEntry[] = [];
  const re =
    /^ID (\d+) gen (\d+)(?: cgen (\d+))? top level (\d+)(?: parent_uuid (\S+)\s+)?(?:received_uuid \S+\s+)?(?:uuid (\S+) )?\s*path (.*)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const e: SubvolumeListEntry = { id: Number(m[1]), generation: Number(m[2]), topLevel: Number(m[4]), path: m[7] };
    if (m[3] !== undefined) e.cgen = Number(m[3]);
    if (m[5] !== undefined) e.parentUuid = nullable(m[5]);
    if (m[6] !== undefined) e.uuid = nullable(m[6]);
    out.push(e);
  }
  return out;
}

/** Parses `btrfs qgroup show -re --raw`: qgroupid rfer excl max_rfer max_excl [path]. */
export function parseQgroupShow(text: string): QgroupInfo[] {
  const out: QgroupInfo[] = [];
  const lim = (v: string) => (v === 'none' ? null : Number(v));
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d+\/\d+$/.test(f[0])) continue;
    out.push({ qgroupid: f[0], referenced: Number(f[1]), exclusive: Number(f[2]), maxReferenced: lim(f[3]), maxExclusive: lim(f[4]) });
  }
  return out;
}

/** Parses `btrfs filesystem show --raw`. */
export function parseFilesystemShow(text: string): FilesystemShow {
  const head = /Label:\s*(?:'(.*)'|none)\s+uuid:\s*([0-9a-f-]+)/.exec(text);
  const devices = [...text.matchAll(/devid\s+(\d+)\s+size\s+(\d+)\s+used\s+(\d+)\s+path\s+(\S+)/g)].map((m) => ({
    devid: Number(m[1]),
    size: Number(m[2]),
    used: Number(m[3]),
    path: m[4],
  }));
  return { label: head?.[1] ?? null, uuid: head?.[2] ?? '', devices };
}

/** Parses the "Overall:" block of `btrfs filesystem usage -b`. */
export function parseFilesystemUsage(text: string): FilesystemUsage {
  const out: FilesystemUsage = {};
  const overall = text.split(/\n\s*\n/)[0];
  for (const line of overall.split('\n')) {
    const m = /^\s+([A-Za-z][A-Za-z ,()]*?):\s+(-?\d+(?:\.\d+)?)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export function createBtrfs(command = 'btrfs'): Btrfs {
  const t = tool(command);
  const run = async (args: string[]) => (await t.run(args)).stdout;
  return {
    tool: t,
    async version() {
      return (await run(['--version'])).trim();
    },
    available: () => t.available(['--version']),

    // ioctl BTRFS_IOC_SUBVOL_CREATE would save the process start.
    async subvolumeCreate(path) {
      await run(['subvolume', 'create', path]);
    },
    async subvolumeSnapshot(source, dest, opts = {}) {
      await run(['subvolume', 'snapshot', ...(opts.readonly ? ['-r'] : []), source, dest]);
    },
    async subvolumeDelete(path) {
      await run(['subvolume', 'delete', path]);
    },
    async subvolumeShow(path) {
      return parseSubvolumeShow(await run(['subvolume', 'show', path]));
    },
    async subvolumeList(path, opts = {}) {
      const args = ['subvolume', 'list', ...(opts.onlyBelow ? ['-o'] : []), ...(opts.details ? ['-c', '-u', '-q'] : [])];
      return parseSubvolumeList(await run([...args, path]));
    },
    // ioctl BTRFS_IOC_SYNC (or syncfs(2)) is what this wraps; cheap when nothing is dirty.
    async filesystemSync(path) {
      await run(['filesystem', 'sync', path]);
    },

    async quotaEnable(path) {
      await run(['quota', 'enable', path]);
    },
    async quotaDisable(path) {
      await run(['quota', 'disable', path]);
    },
    async quotaRescan(path, opts = {}) {
      await run(['quota', 'rescan', ...(opts.wait ? ['-w'] : []), path]);
    },
    async quotaEnabled(path) {
      // ioctl TREE_SEARCH for BTRFS_QGROUP_STATUS_KEY is what Docker does; the tool answers
      // "quotas not enabled" (exit 1) instead.
      try {
        await run(['qgroup', 'show', '--raw', path]);
        return true;
      } catch (err) {
        if (/quotas not enabled/i.test((err as { stderr?: string }).stderr ?? '')) return false;
        throw err;
      }
    },
    async qgroupCreate(qgroupid, path) {
      await run(['qgroup', 'create', qgroupid, path]);
    },
    async qgroupDestroy(qgroupid, path) {
      await run(['qgroup', 'destroy', qgroupid, path]);
    },
    async qgroupLimit(size, path) {
      await run(['qgroup', 'limit', size === null ? 'none' : String(size), path]);
    },
    async qgroupShow(path, opts = {}) {
      return parseQgroupShow(await run(['qgroup', 'show', '-re', '--raw', ...(opts.onlyOf ? ['-f'] : []), path]));
    },

    async filesystemShow(path) {
      return parseFilesystemShow(await run(['filesystem', 'show', '--raw', path]));
    },
    async filesystemUsage(path) {
      return parseFilesystemUsage(await run(['filesystem', 'usage', '-b', path]));
    },

    async send(subvol, out, opts = {}) {
      const args = ['send', '-q', '-f', out];
      if (opts.noData) args.push('--no-data');
      if (opts.parent) args.push('-p', opts.parent);
      await run([...args, subvol]);
    },
    // A pipe rather than `-f file`: nothing is written into the filesystem, which would leave
    // a transaction for the next sync to commit.
    sendTo(subvol, onData, opts = {}) {
      const args = ['send', '-q'];
      if (opts.noData) args.push('--no-data');
      if (opts.parent) args.push('-p', opts.parent);
      return t.stream([...args, subvol], onData, { signal: opts.signal });
    },
    async receiveDump(file) {
      return run(['receive', '--dump', '-f', file]);
    },
    // ioctl BTRFS_IOC_INO_PATHS is what this wraps.
    async inodeResolve(ino, subvol) {
      const text = await run(['inspect-internal', 'inode-resolve', String(ino), subvol]);
      const prefix = subvol.endsWith('/') ? subvol : subvol + '/';
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (l.startsWith(prefix) ? l.slice(prefix.length) : l));
    },
    async rootId(path) {
      return Number((await run(['inspect-internal', 'rootid', path])).trim());
    },
  };
}
