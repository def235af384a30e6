// Typed wrappers of the programs the tests and the benchmark drive: Debian's umoci and skopeo,
// openssl and htpasswd for the test registries, each on core's tool() so a failure carries its
// command line, exit code and stderr. docker-registry itself is a long-running server and is
// spawned by ./registry.ts.
import { execFileSync } from 'node:child_process';
import { tool } from '@graphdriver/core';

const umociTool = tool('umoci', { timeout: 300_000 });
const skopeoTool = tool('skopeo', { timeout: 600_000 });
const opensslTool = tool('openssl', { timeout: 60_000 });
const htpasswdTool = tool('htpasswd', { timeout: 60_000 });

export const umoci = {
  init: (layout: string) => umociTool.run(['init', '--layout', layout]),
  newImage: (image: string) => umociTool.run(['new', '--image', image]),
  unpack: (image: string, bundle: string, opts: { rootless?: boolean } = {}) =>
    umociTool.run(['unpack', ...(opts.rootless ? ['--rootless'] : []), '--image', image, bundle]),
  repack: (image: string, bundle: string) => umociTool.run(['repack', '--image', image, bundle]),
  /** Adds `source` at `target` as a new layer; `opaque` hides what lower layers had there. */
  insert: (image: string, source: string, target: string, opts: { opaque?: boolean } = {}) =>
    umociTool.run(['insert', '--image', image, ...(opts.opaque ? ['--opaque'] : []), source, target]),
  tag: (image: string, tag: string) => umociTool.run(['tag', '--image', image, tag]),
  whiteout: (image: string, target: string) => umociTool.run(['insert', '--image', image, '--whiteout', target]),
  tags: async (layout: string) => (await umociTool.run(['ls', '--layout', layout])).stdout.split('\n').filter(Boolean),
};

export interface SkopeoInspect {
  Digest: string;
  Architecture: string;
  Os: string;
  Layers: string[];
}

export const skopeo = {
  inspect: async (ref: string) => JSON.parse((await skopeoTool.run(['inspect', ref])).stdout) as SkopeoInspect,
  /** Inspect's --config: the image config as the image holds it. */
  inspectConfig: async (ref: string) =>
    JSON.parse((await skopeoTool.run(['inspect', '--config', ref])).stdout) as { rootfs: { diff_ids: string[] } },
  /** The manifest (or index) exactly as stored, e.g. to compare bytes with what was pushed. */
  inspectRaw: async (ref: string, extra: readonly string[] = []) => (await skopeoTool.run(['inspect', '--raw', ...extra, ref])).stdout,
  copy: (src: string, dest: string, extra: readonly string[] = []) => skopeoTool.run(['copy', '--quiet', ...extra, src, dest]),
};

export const openssl = {
  run: (args: readonly string[]) => opensslTool.run(args),
};

export const htpasswd = {
  /** A new htpasswd file holding one bcrypt entry (the only hash distribution accepts). */
  create: (file: string, user: string, password: string) => htpasswdTool.run(['-Bbc', file, user, password]),
};

/** The programs of `names` that are not on PATH. */
export function missingPrograms(names: readonly string[]): string[] {
  return names.filter((bin) => {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** What the registry suites need: the registry itself, certificates, htpasswd, and skopeo to push fixtures. */
export const REGISTRY_PROGRAMS = ['docker-registry', 'openssl', 'htpasswd', 'skopeo'] as const;

/**
 * Says loudly that a suite cannot run and why; under CI (CI=true) that is a failure, not a
 * skip. Returns true when the suite must be skipped.
 */
export function skipWithout(suite: string, programs: readonly string[] = REGISTRY_PROGRAMS): boolean {
  const missing = missingPrograms(programs);
  if (missing.length === 0) return false;
  const why = `${suite} needs ${missing.join(', ')} (tools/setup/install.sh installs them)`;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(`\n*** SKIPPING ${suite}: ${why} ***\n`);
  return true;
}
