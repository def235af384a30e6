// `docker://REF`: the registry transport. The client lives in ../registry (DockerSource,
// DockerDestination); this is where the operations reach it.
import { ImageErrorCode, imageError } from '../errors.js';
import type { DockerReference } from '../reference.js';
import type { ImageDestination, ImageSource } from './types.js';

/** How to reach and authenticate to a registry (the CLI's --creds, --authfile, --cert-dir, --tls-verify). */
export interface RegistryOptions {
  /** `USER:PASS`. */
  creds?: string;
  authFile?: string;
  certDir?: string;
  /** false: plain http and unverified TLS are allowed. */
  tlsVerify?: boolean;
}

export async function openDockerSource(_ref: DockerReference, _opts: RegistryOptions): Promise<ImageSource> {
  throw imageError(ImageErrorCode.UnsupportedImage, 'the docker:// transport is not built yet');
}

export async function openDockerDestination(_ref: DockerReference, _opts: RegistryOptions): Promise<ImageDestination> {
  throw imageError(ImageErrorCode.UnsupportedImage, 'the docker:// transport is not built yet');
}
