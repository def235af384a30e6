// Transport references as skopeo spells them: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
// `docker-archive:FILE[:REF]` and `docker://REF`, where REF is a Docker image reference
// normalised as Docker does (`busybox` is `docker.io/library/busybox:latest`).
import { resolve } from 'node:path';
import { ImageErrorCode, imageError } from './errors.js';
import { DIGEST_RE } from './model/digest.js';

/** A registry image: `registry/repository[:tag][@digest]`, normalised. */
export interface DockerReference {
  /** `host[:port]`; `docker.io` for Docker Hub. */
  registry: string;
  /** Path in the registry, e.g. `library/busybox`. */
  repository: string;
  /** Absent only when a digest is given (`latest` is filled in otherwise). */
  tag?: string;
  /** `sha256:<64 hex>` when the reference pins the manifest; what the registry returns is checked against it. */
  digest?: string;
}

/**
 * A parsed transport reference (skopeo's spelling), as {@link parseImageReference} returns it;
 * paths are absolute.
 */
export type ImageReference =
  | {
      /** `oci:DIR[:TAG]`: an OCI image layout directory. */
      transport: 'oci';
      /** The layout's directory. */
      dir: string;
      /** The image's `org.opencontainers.image.ref.name`; unset, the layout's only image. */
      tag?: string;
    }
  | {
      /** `oci-archive:FILE[:TAG]`: an OCI layout in a tar file. */
      transport: 'oci-archive';
      /** The tar file. */
      file: string;
      /** As for `oci`. */
      tag?: string;
    }
  | {
      /** `docker-archive:FILE[:REF]`: a `docker save` tar file. */
      transport: 'docker-archive';
      /** The tar file. */
      file: string;
      /** The image's RepoTag; unset, the archive's only image (export: no tag). */
      ref?: DockerReference;
    }
  | {
      /** `docker://REF`: a registry. */
      transport: 'docker';
      /** The image in the registry. */
      ref: DockerReference;
    };

/** The transports images are read from and written to: `oci`, `oci-archive`, `docker-archive`, `docker`. */
export type Transport = ImageReference['transport'];

/** The registry a reference without a host names (Docker Hub, served by `registry-1.docker.io`). */
export const DOCKER_HUB = 'docker.io';

// distribution/reference's grammar
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST_COMPONENT_RE = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
// The OCI image-layout ref.name grammar (components joined by separators).
const LAYOUT_TAG_RE = /^[A-Za-z0-9_-]+(?:(?:[.:/@+]|--)[A-Za-z0-9_-]+)*$/;
const MAX_NAME = 255;

const bad = (text: string, why: string, expected: string) =>
  imageError(ImageErrorCode.InvalidReference, `invalid image reference ${JSON.stringify(text)}: ${why} (expected ${expected})`);

const DOCKER_FORM = '[docker://]HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]';

function isHost(part: string): boolean {
  if (part === 'localhost') return true;
  if (!part.includes('.') && !part.includes(':')) return false;
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(part);
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) > 65535) return false;
  return m[1].startsWith('[') || m[1].split('.').every((c) => HOST_COMPONENT_RE.test(c));
}

/**
 * Parses a Docker image reference (`docker://` optional). A first component without a dot,
 * a colon or `localhost` is not a host: the image is on Docker Hub, and a single-component
 * name there lives under `library/`. No tag and no digest means `:latest`.
 */
export function parseDockerReference(input: string): DockerReference {
  const text = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const fail = (why: string) => bad(input, why, DOCKER_FORM);
  if (!text) throw fail('empty');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw fail(`digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex>`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw fail(`tag ${JSON.stringify(tag)} is not valid`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && isHost(parts[0])) registry = parts.shift()!;
  else if (parts.length > 1 && /[.:]/.test(parts[0])) throw fail(`${JSON.stringify(parts[0])} is not a valid host`);
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => !p)) throw fail('empty path component');
  for (const p of parts) {
    if (!COMPONENT_RE.test(p)) {
      throw fail(
        p !== p.toLowerCase()
          ? `repository names must be lowercase (${JSON.stringify(p)})`
          : `${JSON.stringify(p)} is not a valid repository component`,
      );
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (registry.length + 1 + repository.length > MAX_NAME) throw fail(`name longer than ${MAX_NAME} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `registry/repository[:tag][@digest]`, the fully spelled-out form. */
export function formatDockerReference(r: DockerReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** Splits `PATH[:SUFFIX]` at the first colon, as skopeo does for its file transports. */
function splitPath(text: string, rest: string, expected: string): { path: string; suffix?: string } {
  const colon = rest.indexOf(':');
  const path = colon < 0 ? rest : rest.slice(0, colon);
  const suffix = colon < 0 ? undefined : rest.slice(colon + 1);
  if (!path) throw bad(text, 'no path', expected);
  if (suffix === '') throw bad(text, 'empty name after the path', expected);
  return { path: resolve(path), ...(suffix !== undefined ? { suffix } : {}) };
}

function layoutTag(text: string, tag: string | undefined, expected: string): { tag?: string } {
  if (tag === undefined) return {};
  if (!LAYOUT_TAG_RE.test(tag)) throw bad(text, `tag ${JSON.stringify(tag)} is not a valid reference name`, expected);
  return { tag };
}

/** Parses any transport reference. */
export function parseImageReference(text: string): ImageReference {
  if (text.startsWith('docker://')) return { transport: 'docker', ref: parseDockerReference(text) };
  if (text.startsWith('oci:')) {
    const e = 'oci:DIR[:TAG]';
    const { path, suffix } = splitPath(text, text.slice(4), e);
    return { transport: 'oci', dir: path, ...layoutTag(text, suffix, e) };
  }
  if (text.startsWith('oci-archive:')) {
    const e = 'oci-archive:FILE[:TAG]';
    const { path, suffix } = splitPath(text, text.slice('oci-archive:'.length), e);
    return { transport: 'oci-archive', file: path, ...layoutTag(text, suffix, e) };
  }
  if (text.startsWith('docker-archive:')) {
    const { path, suffix } = splitPath(text, text.slice('docker-archive:'.length), 'docker-archive:FILE[:REF]');
    return { transport: 'docker-archive', file: path, ...(suffix !== undefined ? { ref: parseDockerReference(suffix) } : {}) };
  }
  throw bad(text, 'unknown transport', 'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or docker://REF');
}

/** The reference as a string {@link parseImageReference} reads back (`oci:/abs/dir:tag`, `docker://docker.io/library/busybox:latest`). */
export function formatImageReference(r: ImageReference): string {
  switch (r.transport) {
    case 'docker':
      return `docker://${formatDockerReference(r.ref)}`;
    case 'oci':
      return `oci:${r.dir}${r.tag !== undefined ? `:${r.tag}` : ''}`;
    case 'oci-archive':
      return `oci-archive:${r.file}${r.tag !== undefined ? `:${r.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${r.file}${r.ref ? `:${formatDockerReference(r.ref)}` : ''}`;
  }
}

/** Docker's short form, as `docker images` and docker-archive RepoTags spell it (`busybox:latest`). */
export function familiarDockerReference(r: DockerReference): string {
  let name = `${r.registry}/${r.repository}`;
  if (r.registry === DOCKER_HUB)
    name = r.repository.startsWith('library/') && r.repository.split('/').length === 2 ? r.repository.slice(8) : r.repository;
  return `${name}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}
