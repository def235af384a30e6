// `login` and `logout` as library calls: login first proves the credentials against the
// registry (a Basic 200 on /v2/, or a token issued for them), and only then writes them to the
// auth file; logout removes the registry's entry.
import { removeCredentials, storeCredentials, authFileForWrite, type Credentials } from './auth-file.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';

/** Options of {@link login}: how to reach the registry and which auth file to write. */
export interface LoginOptions extends Omit<RegistryClientOptions, 'creds'> {
  /** Cancels the check: it rejects with an AbortError and nothing is written. */
  signal?: AbortSignal;
}

/**
 * Checks `creds` against `registry`, then stores them in the auth file (mode 0600, other
 * entries kept). Refused credentials are ERR_REGISTRY_AUTH and nothing is written.
 */
export async function login(
  registry: string,
  creds: Credentials,
  opts: LoginOptions = {},
): Promise<{
  /** The auth file written. */
  authFile: string;
}> {
  const client = new RegistryClient(registry, { ...opts, creds });
  try {
    await client.checkCredentials(opts.signal);
  } finally {
    client.close();
  }
  return { authFile: await storeCredentials(registry, creds, opts) };
}

/** Removes the stored credentials of `registry`; `removed` is false when there were none. */
export async function logout(
  registry: string,
  opts: Pick<LoginOptions, 'authFile' | 'env' | 'home'> = {},
): Promise<{
  /** The auth file looked in. */
  authFile: string;
  /** False when it held no entry for the registry. */
  removed: boolean;
}> {
  const removed = await removeCredentials(registry, opts);
  return { authFile: authFileForWrite(opts), removed };
}
