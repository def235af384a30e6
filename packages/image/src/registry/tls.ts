// TLS trust for one registry: a certs directory (`ca.crt` and any other *.crt as CAs,
// `client.cert` + `client.key` as the client identity), given explicitly (--cert-dir) or found
// as containers and Docker keep them, /etc/containers/certs.d/HOST:PORT/ then
// /etc/docker/certs.d/HOST:PORT/. Our CAs are added to node's bundled roots, not put in place
// of them, so redirects to a public CDN still verify.
import { readdir, readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { ImageErrorCode, imageError } from '../errors.js';

/** Where certificates are looked for by registry (`DIR/HOST:PORT/`), in order: containers', then Docker's. */
export const DEFAULT_CERTS_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

/** Where a registry's TLS trust comes from. */
export interface TlsOptions {
  /** A directory of certificates for this registry (--cert-dir). */
  certDir?: string;
  /** false: accept any certificate, and plain http (--tls-verify=false). Default true. */
  tlsVerify?: boolean;
  /** The certs.d roots searched when no certDir is given (default DEFAULT_CERTS_DIRS). */
  certsDirs?: string[];
}

/** The TLS trust for one registry, as {@link loadTlsSettings} found it. */
export interface TlsSettings {
  /** False when any certificate (and plain http) is accepted. */
  verify: boolean;
  /** Trusted CAs (node's roots plus the certs directory's), when a directory added some. */
  ca?: string[];
  /** The client certificate (`client.cert`), PEM. */
  cert?: Buffer;
  /** Its private key (`client.key`), PEM. */
  key?: Buffer;
  /** The directory the settings came from, if any. */
  certDir?: string;
}

async function listDir(dir: string): Promise<string[] | undefined> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Loads the TLS settings for `host` (`host[:port]` as the reference names it). */
export async function loadTlsSettings(host: string, opts: TlsOptions = {}): Promise<TlsSettings> {
  const verify = opts.tlsVerify !== false;
  let dir: string | undefined;
  let names: string[] | undefined;
  if (opts.certDir) {
    dir = opts.certDir;
    names = await listDir(dir);
    if (!names) throw imageError(ImageErrorCode.RegistryTls, `certificate directory ${dir} does not exist`);
  } else {
    for (const root of opts.certsDirs ?? DEFAULT_CERTS_DIRS) {
      names = await listDir(join(root, host));
      if (names) {
        dir = join(root, host);
        break;
      }
    }
  }
  if (!dir || !names) return { verify };
  const cas = await Promise.all(names.filter((n) => n.endsWith('.crt')).map((n) => readFile(join(dir!, n), 'utf8')));
  const settings: TlsSettings = { verify, certDir: dir };
  if (cas.length) settings.ca = [...rootCertificates, ...cas];
  const certName = names.find((n) => n.endsWith('.cert'));
  if (certName) {
    const keyName = `${certName.slice(0, -'.cert'.length)}.key`;
    if (!names.includes(keyName)) throw imageError(ImageErrorCode.RegistryTls, `${join(dir, certName)} has no matching ${keyName}`);
    settings.cert = await readFile(join(dir, certName));
    settings.key = await readFile(join(dir, keyName));
  }
  return settings;
}
