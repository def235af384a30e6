// Typed wrappers of the programs the tests and the benchmark drive: Debian's umoci and skopeo,
// openssl and htpasswd for the test registries, each on core's tool() so a failure carries its
// command line, exit code and stderr. docker-registry itself is a long-running server and is
// spawned by ./registry.ts.
import { tool } from '@graphdriver/core';
import { missingPrograms, requireBackingSystem } from '@graphdriver/core/testing';

const umociTool = tool('umoci', { timeout: 300_000 });
const skopeoTool = tool('skopeo', { timeout: 600_000 });
const opensslTool = tool('openssl', { timeout: 60_000 });
const htpasswdTool = tool('htpasswd', { timeout: 60_000 });

/**
 * umoci (Debian's), for building test images in an OCI layout. Every call runs the program
 * and rejects with core's ERR_TOOL_FAILED (command line, exit code, stderr) when it fails.
 * An `image` is `LAYOUT:TAG`.
 */
export const umoci = {
  /** Makes an empty OCI layout at `layout`. */
  init: (layout: string) => umociTool.run(['init', '--layout', layout]),
  /** Adds an image without layers, tagged as `image` says. */
  newImage: (image: string) => umociTool.run(['new', '--image', image]),
  /** Unpacks `image` into the runtime bundle `bundle` (its root filesystem in `bundle/rootfs`); `rootless` as a non-root user. */
  unpack: (image: string, bundle: string, opts: { rootless?: boolean } = {}) =>
    umociTool.run(['unpack', ...(opts.rootless ? ['--rootless'] : []), '--image', image, bundle]),
  /** Adds the changes made in an unpacked bundle's rootfs to `image` as a new layer. */
  repack: (image: string, bundle: string) => umociTool.run(['repack', '--image', image, bundle]),
  /** Adds `source` at `target` as a new layer; `opaque` hides what lower layers had there. */
  insert: (image: string, source: string, target: string, opts: { opaque?: boolean } = {}) =>
    umociTool.run(['insert', '--image', image, ...(opts.opaque ? ['--opaque'] : []), source, target]),
  /** Gives `image` a further tag. */
  tag: (image: string, tag: string) => umociTool.run(['tag', '--image', image, tag]),
  /** Adds a layer that deletes `target` (a whiteout). */
  whiteout: (image: string, target: string) => umociTool.run(['insert', '--image', image, '--whiteout', target]),
  /** The tags in `layout`. */
  tags: async (layout: string) => (await umociTool.run(['ls', '--layout', layout])).stdout.split('\n').filter(Boolean),
};

/** The part of `skopeo inspect`'s JSON the tests read (its field names). */
export interface SkopeoInspect {
  /** The manifest's digest. */
  Digest: string;
  /** The image's architecture. */
  Architecture: string;
  /** The image's operating system. */
  Os: string;
  /** The layer blobs' digests, base first. */
  Layers: string[];
}

/**
 * skopeo (Debian's), the reference implementation to check our images against. Every call
 * rejects with core's ERR_TOOL_FAILED when skopeo fails. `ref` is a transport reference.
 */
export const skopeo = {
  /** `skopeo inspect`: the image's digest, platform and layers. */
  inspect: async (ref: string) => JSON.parse((await skopeoTool.run(['inspect', ref])).stdout) as SkopeoInspect,
  /** Inspect's --config: the image config as the image holds it. */
  inspectConfig: async (ref: string) =>
    JSON.parse((await skopeoTool.run(['inspect', '--config', ref])).stdout) as {
      /** The config's rootfs. */
      rootfs: {
        /** The layers' diff IDs, base first. */
        diff_ids: string[];
      };
    },
  /** The manifest (or index) exactly as stored, e.g. to compare bytes with what was pushed. */
  inspectRaw: async (ref: string, extra: readonly string[] = []) => (await skopeoTool.run(['inspect', '--raw', ...extra, ref])).stdout,
  /** `skopeo copy` from `src` to `dest`; `extra` are more flags (e.g. `--dest-tls-verify=false`). */
  copy: (src: string, dest: string, extra: readonly string[] = []) => skopeoTool.run(['copy', '--quiet', ...extra, src, dest]),
};

export const openssl = {
  run: (args: readonly string[]) => opensslTool.run(args),
};

export const htpasswd = {
  /** A new htpasswd file holding one bcrypt entry (the only hash distribution accepts). */
  create: (file: string, user: string, password: string) => htpasswdTool.run(['-Bbc', file, user, password]),
};

/** What the registry suites need: the registry itself, certificates, htpasswd, and skopeo to push fixtures. */
export const REGISTRY_PROGRAMS = ['docker-registry', 'openssl', 'htpasswd', 'skopeo'] as const;

/** core's skip-or-fail rule for a suite needing `programs` (default: a registry's): true when it must be skipped. */
export function skipWithout(suite: string, programs: readonly string[] = REGISTRY_PROGRAMS): boolean {
  return !requireBackingSystem(suite, missingPrograms(programs));
}
