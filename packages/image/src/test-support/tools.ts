// Typed wrappers of the OCI tools the interop tests and the benchmark drive: Debian's
// umoci and skopeo, both built on core's tool(), so failures carry command, code, stderr.
import { tool } from '@graphdriver/core';

const umociTool = tool('umoci', { timeout: 300_000 });
const skopeoTool = tool('skopeo', { timeout: 600_000 });

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
  inspectConfig: async (ref: string) => JSON.parse((await skopeoTool.run(['inspect', '--config', ref])).stdout) as { rootfs: { diff_ids: string[] } },
  copy: (src: string, dest: string, extra: readonly string[] = []) => skopeoTool.run(['copy', '--quiet', ...extra, src, dest]),
};
