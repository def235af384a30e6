// Test images built here, byte for byte, as an OCI image layout (so every digest is known to
// the test), and pushed to a test registry with skopeo: real registry content before our own
// push exists, and an independent writer to check our client against.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { packEntries } from '@graphdriver/core';
import { sha256 } from '../model/digest.js';
import type { Descriptor, Platform } from '../transports/types.js';
import type { RunningRegistry } from './registry.js';
import { skopeo } from './tools.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** One platform's image in a {@link TestLayout}. */
export interface TestImage {
  /** The platform it is for. */
  platform: Platform;
  /** Its manifest's descriptor (with the platform). */
  manifest: Descriptor;
  /** Its config's descriptor. */
  config: Descriptor;
  /** Its layers' descriptors (gzip), base first. */
  layers: Descriptor[];
  /** Per layer, the uncompressed tar's digest. */
  diffIds: string[];
}

/** An OCI image layout written by {@link buildTestLayout}. */
export interface TestLayout {
  /** The layout directory (for oci:DIR:TAG). */
  dir: string;
  /** The tag that names the image (or index). */
  tag: string;
  /** One image per platform. */
  images: TestImage[];
  /** Set when the tag names an index of several platforms. */
  index?: Descriptor;
  /** Blob bytes by digest (small test images: kept for comparisons). */
  blobs: Map<string, Buffer>;
}

/** What {@link buildTestLayout} writes. */
export interface TestLayoutOptions {
  /** One image per platform; more than one makes the tag an index. Default linux/amd64. */
  platforms?: Platform[];
  /** Layers per image (default 2). */
  layers?: number;
  /** Bytes of incompressible data in each layer's one file (default 64 KiB). */
  layerBytes?: number;
  /** Varies every byte, so two layouts share no blob (default 'a'). */
  seed?: string;
  /** The tag (default 'latest'). */
  tag?: string;
  /** The layers' uncompressed tars as they are (a hostile layer, say), instead of generated ones; overrides `layers`. */
  layerTars?: Buffer[];
}

/** `sha256:<hex>` of some bytes (the model's, offered here to the tests). */
export { sha256 };

/** A whole stream's bytes (test blobs are small). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Deterministic incompressible bytes. */
export function noise(bytes: number, seed: string): Buffer {
  const out = Buffer.alloc(bytes);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < bytes; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

async function tarOf(name: string, body: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const header = { name, type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000 };
  for await (const c of packEntries([{ header, body }])) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Writes an OCI image layout under `dir` whose `tag` is the image (or index) described. */
export async function buildTestLayout(dir: string, opts: TestLayoutOptions = {}): Promise<TestLayout> {
  const platforms = opts.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  const tag = opts.tag ?? 'latest';
  const seed = opts.seed ?? 'a';
  const blobs = new Map<string, Buffer>();
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Promise<Descriptor> => {
    const digest = sha256(bytes);
    blobs.set(digest, bytes);
    await writeFile(join(dir, 'blobs/sha256', digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length, ...extra };
  };
  const images: TestImage[] = [];
  for (const platform of platforms) {
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    const plat = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('-');
    for (let i = 0; i < (opts.layerTars?.length ?? opts.layers ?? 2); i++) {
      const tar = opts.layerTars?.[i] ?? (await tarOf(`layer${i}.bin`, noise(opts.layerBytes ?? 64 << 10, `${seed}/${plat}/${i}`)));
      diffIds.push(sha256(tar));
      layers.push(await put(OCI_LAYER_GZIP, gzipSync(tar)));
    }
    const config = await put(
      OCI_CONFIG,
      Buffer.from(
        JSON.stringify({
          architecture: platform.architecture,
          os: platform.os,
          ...(platform.variant ? { variant: platform.variant } : {}),
          config: {},
          rootfs: { type: 'layers', diff_ids: diffIds },
        }),
      ),
    );
    const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
    const manifest = await put(OCI_MANIFEST, manifestBytes, { platform });
    images.push({ platform, manifest, config, layers, diffIds });
  }
  let top: Descriptor;
  let index: Descriptor | undefined;
  if (images.length > 1) {
    index = await put(
      OCI_INDEX,
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: images.map((i) => i.manifest) })),
    );
    top = index;
  } else {
    const { platform: _p, ...plain } = images[0].manifest;
    top = plain;
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { dir, tag, images, index, blobs };
}

/** skopeo's flags to reach `reg` as a destination (trust, credentials). */
export function skopeoDestFlags(reg: RunningRegistry): string[] {
  return [
    ...(reg.caDir ? [`--dest-cert-dir=${reg.caDir}`] : ['--dest-tls-verify=false']),
    ...(reg.creds ? [`--dest-creds=${reg.creds.username}:${reg.creds.password}`] : []),
  ];
}

/**
 * Pushes the layout's tag to `reg` as `repository:tag` with skopeo (all platforms of an index).
 * `format: 'v2s2'` converts to Docker schema 2 media types on the way.
 */
export async function pushTestLayout(
  layout: TestLayout,
  reg: RunningRegistry,
  repository: string,
  opts: { tag?: string; format?: 'oci' | 'v2s2' } = {},
): Promise<void> {
  const flags = [...skopeoDestFlags(reg), ...(layout.index ? ['--all'] : []), ...(opts.format === 'v2s2' ? ['--format=v2s2'] : [])];
  await skopeo.copy(`oci:${layout.dir}:${layout.tag}`, `docker://${reg.host}/${repository}:${opts.tag ?? layout.tag}`, flags);
}
