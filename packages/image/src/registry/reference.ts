// Which host serves a registry's API, and when two names are the same registry. Docker Hub is
// special: `docker.io` (what a name without a host means) answers at `registry-1.docker.io`.
import { DOCKER_HUB } from '../reference.js';

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
