// Strict, bounded parsing of the JSON documents that come from outside (a layout, an archive,
// a registry): sizes are bounded before anything is read whole, every shape is checked, and
// every digest must be sha256:<64 hex> before any code uses it to name a file or a URL.
import { ImageErrorCode, digestMismatch, imageError, invalidImage } from '../errors.js';
import { isDigest, sha256 } from './digest.js';
import { INDEX_TYPES, MANIFEST_TYPES, SCHEMA1_TYPES, isIndexType, isManifestType } from './media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from './types.js';

/** Manifests and indexes: distribution refuses manifests over 4 MiB; so do we. */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** Configs carry the history and environment of an image: larger, but still bounded. */
export const MAX_CONFIG_BYTES = 16 << 20;
/** Layers, diff IDs and index entries: more than any real image has. */
const MAX_ENTRIES = 10_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks `bytes` against `digest` (when given) and `max`, then parses them as a JSON object. */
export function parseJsonBlob(bytes: Buffer, what: string, opts: { max: number; digest?: string }): Record<string, unknown> {
  if (bytes.length > opts.max) throw invalidImage(what, `${bytes.length} bytes, over the ${opts.max}-byte limit`);
  if (opts.digest !== undefined) {
    const actual = sha256(bytes);
    if (actual !== opts.digest) throw digestMismatch(what, opts.digest, actual);
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalidImage(what, 'not JSON', err);
  }
  if (!isObject(value)) throw invalidImage(what, 'not a JSON object');
  return value;
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw invalidImage(what, 'annotations must map strings to strings');
  return v as Record<string, string>;
}

/** A descriptor, checked: media type, sha256 digest, a safe non-negative size. */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw invalidImage(what, 'descriptor is not an object');
  const { mediaType, digest, size, urls, annotations, platform } = v;
  if (typeof mediaType !== 'string' || mediaType.length > 255) throw invalidImage(what, 'descriptor has no mediaType');
  if (!isDigest(digest)) throw invalidImage(what, `descriptor digest ${JSON.stringify(digest)} is not sha256:<64 hex>`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw invalidImage(what, `descriptor size ${JSON.stringify(size)} is not a byte count`);
  const out: Descriptor = { mediaType, digest, size };
  if (urls !== undefined) {
    if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')) throw invalidImage(what, 'descriptor urls must be strings');
    out.urls = urls as string[];
  }
  const ann = stringMap(annotations, what);
  if (ann) out.annotations = ann;
  if (platform !== undefined) {
    if (!isObject(platform) || typeof platform.os !== 'string' || typeof platform.architecture !== 'string') {
      throw invalidImage(what, 'descriptor platform needs os and architecture');
    }
    out.platform = {
      os: platform.os,
      architecture: platform.architecture,
      ...(typeof platform.variant === 'string' ? { variant: platform.variant } : {}),
    };
  }
  return out;
}

function descriptors(v: unknown, what: string): Descriptor[] {
  if (!Array.isArray(v)) throw invalidImage(what, 'expected an array of descriptors');
  if (v.length > MAX_ENTRIES) throw invalidImage(what, `${v.length} descriptors, over the limit of ${MAX_ENTRIES}`);
  return v.map((d, i) => parseDescriptor(d, `${what}[${i}]`));
}

/**
 * The media type of a manifest document: the one it was served or stored with, else its own
 * `mediaType` field. Schema 1 is refused here, unknown types too.
 */
export function manifestKind(doc: Record<string, unknown>, declared: string | undefined, what: string): 'index' | 'manifest' {
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.includes(declared ?? '') || SCHEMA1_TYPES.includes(own ?? '')) {
    throw imageError(
      ImageErrorCode.UnsupportedImage,
      `${what}: Docker schema 1 manifests are not supported (push the image again with a current tool)`,
    );
  }
  if (doc.schemaVersion !== 2) throw invalidImage(what, `schemaVersion ${JSON.stringify(doc.schemaVersion)} is not 2`);
  if (declared && own && declared !== own && !(declared === 'application/json')) {
    throw invalidImage(what, `served as ${declared} but says it is ${own}`);
  }
  const mt = own ?? (declared !== 'application/json' ? declared : undefined);
  if (mt !== undefined) {
    if (isIndexType(mt)) return 'index';
    if (isManifestType(mt)) return 'manifest';
    throw imageError(
      ImageErrorCode.UnsupportedImage,
      `${what}: unsupported manifest media type ${mt} (expected one of ${[...MANIFEST_TYPES, ...INDEX_TYPES].join(', ')})`,
    );
  }
  // OCI allows mediaType to be left out: the shape tells
  if (Array.isArray(doc.manifests)) return 'index';
  if (Array.isArray(doc.layers)) return 'manifest';
  throw invalidImage(what, 'neither an image manifest nor an index');
}

/**
 * An image index from parsed JSON (see {@link parseJsonBlob}): every descriptor's shape and
 * digest form checked; `what` names the document in errors. Throws ERR_IMAGE_INVALID.
 */
export function parseIndex(doc: Record<string, unknown>, what: string): ImageIndex {
  const index: ImageIndex = { schemaVersion: 2, manifests: descriptors(doc.manifests, `${what} manifests`) };
  if (typeof doc.mediaType === 'string') index.mediaType = doc.mediaType;
  const ann = stringMap(doc.annotations, what);
  if (ann) index.annotations = ann;
  return index;
}

/**
 * An image manifest from parsed JSON (see {@link parseJsonBlob}): config and layer
 * descriptors checked; `what` names the document in errors. Throws ERR_IMAGE_INVALID.
 */
export function parseManifest(doc: Record<string, unknown>, what: string): ImageManifest {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    config: parseDescriptor(doc.config, `${what} config`),
    layers: descriptors(doc.layers, `${what} layers`),
  };
  if (typeof doc.mediaType === 'string') manifest.mediaType = doc.mediaType;
  const ann = stringMap(doc.annotations, what);
  if (ann) manifest.annotations = ann;
  return manifest;
}

/** An image config: os, architecture and rootfs.diff_ids are required and checked. */
export function parseConfig(doc: Record<string, unknown>, what: string): ImageConfig {
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw invalidImage(what, 'has no rootfs.diff_ids');
  if (rootfs.diff_ids.length > MAX_ENTRIES)
    throw invalidImage(what, `${rootfs.diff_ids.length} diff_ids, over the limit of ${MAX_ENTRIES}`);
  for (const d of rootfs.diff_ids) if (!isDigest(d)) throw invalidImage(what, `diff_id ${JSON.stringify(d)} is not sha256:<64 hex>`);
  if (typeof doc.os !== 'string' || typeof doc.architecture !== 'string') throw invalidImage(what, 'needs os and architecture');
  if (doc.history !== undefined && !Array.isArray(doc.history)) throw invalidImage(what, 'history is not an array');
  return doc as unknown as ImageConfig;
}
