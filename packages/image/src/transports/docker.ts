// `docker://REF`: the registry transport. The client and both ends live in ../registry
// (DockerSource, DockerDestination); this is where the operations reach them.
import { parseCredentials } from '../registry/auth-file.js';
import { DockerDestination, DockerSource, type DockerTransportOptions } from '../registry/docker-transport.js';
import type { DockerReference } from '../reference.js';
import type { ImageDestination, ImageSource } from './types.js';

/** How to reach and authenticate to a registry (the CLI's --creds, --authfile, --cert-dir, --tls-verify). */
export interface RegistryOptions {
  /** `USER:PASS`. */
  creds?: string;
  /** The auth file to read credentials from (default: the containers/Docker search path). */
  authFile?: string;
  /** A directory of `*.crt` CAs and `client.cert`/`client.key` (default: certs.d by host). */
  certDir?: string;
  /** false: plain http and unverified TLS are allowed. */
  tlsVerify?: boolean;
}

function clientOptions(opts: RegistryOptions): DockerTransportOptions {
  return {
    ...(opts.creds !== undefined ? { creds: parseCredentials(opts.creds) } : {}),
    authFile: opts.authFile,
    certDir: opts.certDir,
    tlsVerify: opts.tlsVerify,
  };
}

export async function openDockerSource(ref: DockerReference, opts: RegistryOptions): Promise<ImageSource> {
  return new DockerSource(ref, clientOptions(opts));
}

export async function openDockerDestination(ref: DockerReference, opts: RegistryOptions): Promise<ImageDestination> {
  return new DockerDestination(ref, clientOptions(opts));
}
