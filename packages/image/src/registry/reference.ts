// Which registry and repository a docker:// reference names, already parsed (the reference
// grammar lives with the other transports' parsers). Docker Hub is special twice over: a name
// without a host means `docker.io`, and its API answers at `registry-1.docker.io`.

/** A parsed `docker://` reference. */
export interface RegistryReference {
  /** `host[:port]` as the user named it: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** `library/alpine`, `org/team/app`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`; when set, the manifest fetched must have this digest. */
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set([DOCKER_HUB, 'index.docker.io', DOCKER_HUB_API]);

/** The host that serves the registry API for `registry` (docker.io -> registry-1.docker.io). */
export function apiHost(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB_API : registry.toLowerCase();
}

/** The name credentials, certs.d directories and messages use (registry-1.docker.io -> docker.io). */
export function canonicalRegistry(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB : registry.toLowerCase();
}

/** True when both names reach the same registry (so a blob can be mounted between them). */
export function sameRegistry(a: string, b: string): boolean {
  return apiHost(a) === apiHost(b);
}

/** `docker://HOST/REPO[:TAG][@DIGEST]`, for messages. */
export function formatReference(ref: RegistryReference): string {
  return `docker://${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export const isDigest = (s: string): boolean => DIGEST_RE.test(s);
export const isRepository = (s: string): boolean => s.length <= 255 && REPOSITORY_RE.test(s);
export const isTag = (s: string): boolean => TAG_RE.test(s);
