// Certificates made at test time with openssl: a CA, a server certificate it signs for the
// loopback names, and a self-signed key pair for signing registry tokens. EC P-256 keys:
// quick to make, and both Go's TLS and node's crypto take them.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openssl } from './tools.js';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCa {
  /** A directory holding only `ca.crt`: what --cert-dir / certs.d/HOST:PORT/ look like. */
  caDir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/** A self-signed CA certificate and its key. */
async function makeCa(cert: string, key: string, cn: string): Promise<void> {
  await openssl.run([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** A key and a certificate for `cn` signed by the CA, with the extensions in `extensions`. */
async function signCert(
  ca: { cert: string; key: string },
  out: { cert: string; key: string },
  cn: string,
  extensions: string,
  scratch: string,
) {
  const csr = `${scratch}.csr`;
  const ext = `${scratch}.ext`;
  await writeFile(ext, extensions);
  await openssl.run(['req', ...EC, '-keyout', out.key, '-out', csr, '-subj', `/CN=${cn}`]);
  await openssl.run([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    out.cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
}

/** A CA and a server certificate for 127.0.0.1 and localhost, under `dir`. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const caDir = join(dir, 'trust');
  await mkdir(caDir, { recursive: true });
  const caCert = join(caDir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await makeCa(caCert, caKey, 'graphdriver test CA');
  const serverKey = join(dir, 'server.key');
  const serverCert = join(dir, 'server.crt');
  await signCert(
    { cert: caCert, key: caKey },
    { cert: serverCert, key: serverKey },
    'localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
    join(dir, 'server'),
  );
  return { caDir, caCert, serverCert, serverKey };
}

export interface TestClientCerts {
  /** The CA the registry checks client certificates against (its `http.tls.clientcas`). */
  clientCaCert: string;
  /** A --cert-dir holding `ca.crt` (the server's CA), `client.cert` and `client.key`. */
  certDir: string;
}

/**
 * A client CA of its own and a client certificate it signs, for a registry that requires
 * one; `serverCaCert` is copied in as `ca.crt` so the directory is a complete --cert-dir.
 */
export async function makeTestClientCerts(dir: string, serverCaCert: string): Promise<TestClientCerts> {
  const certDir = join(dir, 'client-certs');
  await mkdir(certDir, { recursive: true });
  const clientCaCert = join(dir, 'client-ca.crt');
  const clientCaKey = join(dir, 'client-ca.key');
  await makeCa(clientCaCert, clientCaKey, 'graphdriver test client CA');
  await signCert(
    { cert: clientCaCert, key: clientCaKey },
    { cert: join(certDir, 'client.cert'), key: join(certDir, 'client.key') },
    'graphdriver test client',
    'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n',
    join(dir, 'client'),
  );
  await writeFile(join(certDir, 'ca.crt'), await readFile(serverCaCert));
  return { clientCaCert, certDir };
}

export interface TokenSigner {
  /** PEM bundle for the registry's `auth.token.rootcertbundle`. */
  certFile: string;
  /** PEM private key the token server signs with (ES256). */
  keyPem: string;
  /** The certificate, DER in base64: the JWT header's x5c chain. */
  certDerBase64: string;
}

export async function makeTokenSigner(dir: string): Promise<TokenSigner> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, 'token.crt');
  const keyFile = join(dir, 'token.key');
  await openssl.run([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=graphdriver test token signer',
  ]);
  const certPem = await readFile(certFile, 'utf8');
  return { certFile, keyPem: await readFile(keyFile, 'utf8'), certDerBase64: new X509Certificate(certPem).raw.toString('base64') };
}
