// Debian's docker-registry (distribution 2.8) started on loopback for tests, in one of three
// set-ups: plain http, TLS with a CA made at test time, and each optionally behind htpasswd
// (basic) or token auth (a token server in this process signs the tokens). Callers stop it in
// afterAll; stopping kills the process and removes its storage.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCa, makeTestClientCerts, makeTokenSigner } from './certs.js';
import { startTokenServer, type TokenServer } from './token-server.js';
import { htpasswd } from './tools.js';

/** How {@link startRegistry} configures the registry. */
export interface StartRegistryOptions {
  /** Serve https with a certificate from a CA made now (see `caDir`). Default false. */
  tls?: boolean;
  /** With tls: require a client certificate signed by a client CA made now (see `clientCertDir`). */
  clientCerts?: boolean;
  /** 'basic': htpasswd; 'token': bearer tokens from a test token server. Default none. */
  auth?: 'none' | 'basic' | 'token';
  /** Token auth: repositories under these prefixes may be pulled anonymously (default ['public/']). */
  publicPrefixes?: string[];
}

/** A user and password the test registry accepts (fixed test values, never real secrets). */
export interface TestCredentials {
  /** The user name. */
  username: string;
  /** Its password. */
  password: string;
}

/** A docker-registry started by {@link startRegistry}; `stop()` it when done. */
export interface RunningRegistry {
  /** `127.0.0.1:PORT`, as a reference names it. */
  host: string;
  /** The loopback port it listens on (a free one, picked at start). */
  port: number;
  /** `http://…` or `https://…`, ending in the port. */
  url: string;
  /** The registry's filesystem root (holds docker/registry/v2/…): see ./storage.ts. */
  storage: string;
  /** With tls: a directory holding only `ca.crt` (a --cert-dir for this registry). */
  caDir?: string;
  /** With clientCerts: a --cert-dir holding `ca.crt`, `client.cert` and `client.key`. */
  clientCertDir?: string;
  /** With auth: a user the registry accepts. */
  creds?: TestCredentials;
  /** With token auth: the token server, whose `requests` log every token asked for. */
  tokenServer?: TokenServer;
  /** Kills the registry (and token server) and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once GET /v2/ answers at all (any status), or rejects after `timeoutMs`. */
async function waitForApi(url: string, child: ChildProcess, timeoutMs: number, clientCertDir?: string): Promise<void> {
  // a registry that requires a client certificate answers only to one
  const identity = clientCertDir
    ? { cert: await readFile(join(clientCertDir, 'client.cert')), key: await readFile(join(clientCertDir, 'client.key')) }
    : {};
  const deadline = Date.now() + timeoutMs;
  const probe = () =>
    new Promise<boolean>((resolve) => {
      const req = (url.startsWith('https') ? httpsRequest : httpRequest)(
        `${url}/v2/`,
        { rejectUnauthorized: false, timeout: 1000, ...identity },
        (res) => {
          res.resume();
          resolve(true);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer at ${url}/v2/ within ${timeoutMs} ms`);
}

// exec keeps the pid: the watcher's $$ is the registry itself, checked before it is killed
const REAPER = `exec 3<&0; (read _ <&3; grep -q docker-registry /proc/$$/cmdline 2>/dev/null && kill $$) & exec docker-registry serve "$1" </dev/null`;

const USER: TestCredentials = { username: 'tester', password: 'registry-pass-1' };

/** Starts a registry on a free loopback port; see StartRegistryOptions. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const auth = opts.auth ?? 'none';
  const work = await mkdtemp(join(tmpdir(), 'gd-registry-'));
  const storage = join(work, 'storage');
  const cleanups: Array<() => Promise<void>> = [() => rm(work, { recursive: true, force: true })];
  let child: ChildProcess | undefined;
  let tokenServer: TokenServer | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.stdin?.end();
      const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  };
  try {
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
    };
    const http: Record<string, unknown> = { secret: randomBytes(16).toString('hex') };
    let caDir: string | undefined;
    let clientCertDir: string | undefined;
    if (opts.clientCerts && !opts.tls) throw new TypeError('startRegistry: clientCerts needs tls');
    if (opts.tls) {
      const ca = await makeTestCa(join(work, 'tls'));
      const tls: Record<string, unknown> = { certificate: ca.serverCert, key: ca.serverKey };
      if (opts.clientCerts) {
        // distribution requires and verifies a client certificate once clientcas is set
        const client = await makeTestClientCerts(join(work, 'tls'), ca.caCert);
        tls.clientcas = [client.clientCaCert];
        clientCertDir = client.certDir;
      }
      http.tls = tls;
      caDir = ca.caDir;
    }
    let creds: TestCredentials | undefined;
    if (auth === 'basic') {
      const file = join(work, 'htpasswd');
      await htpasswd.create(file, USER.username, USER.password);
      config.auth = { htpasswd: { realm: 'graphdriver-test', path: file } };
      creds = USER;
    } else if (auth === 'token') {
      const signer = await makeTokenSigner(join(work, 'token'));
      const service = 'graphdriver-test-registry';
      const issuer = 'graphdriver-test-issuer';
      tokenServer = await startTokenServer({
        signer,
        service,
        issuer,
        users: { [USER.username]: USER.password },
        publicPrefixes: opts.publicPrefixes ?? ['public/'],
      });
      cleanups.push(() => tokenServer!.stop());
      config.auth = { token: { realm: tokenServer.realm, service, issuer, rootcertbundle: signer.certFile } };
      creds = USER;
    }
    // a port taken between freePort() and the registry's bind is retried with another
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      const file = join(work, 'config.yml');
      // JSON is YAML: the registry reads it as its config
      await writeFile(file, JSON.stringify({ ...config, http: { ...http, addr: `127.0.0.1:${port}` } }, null, 2));
      const logFile = join(work, `registry-${attempt}.log`);
      const fd = openSync(logFile, 'w');
      // The registry's stdin is a pipe from this process, watched by a small shell: when it
      // closes (stop(), or this process dying however it dies) the registry is terminated,
      // so a killed test run leaves no registry behind on the shared machine.
      child = spawn('sh', ['-c', REAPER, 'sh', file], { stdio: ['pipe', fd, fd] });
      closeSync(fd);
      const started = child;
      child.on('error', () => {});
      try {
        await waitForApi(url, started, 15_000, clientCertDir);
      } catch (err) {
        started.stdin?.end();
        started.kill('SIGKILL');
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt < 3 && /address already in use/.test(log)) continue;
        throw new Error(`${(err as Error).message}\n${log.slice(-2000)}`);
      }
      return { host: `127.0.0.1:${port}`, port, url, storage, caDir, clientCertDir, creds, tokenServer, stop };
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
