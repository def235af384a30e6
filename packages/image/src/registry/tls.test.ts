// TLS trust against a real registry with a CA made at test time: untrusted is one clear
// ERR_REGISTRY_TLS line, trusted through --cert-dir or a certs.d tree, or not verified at all;
// a registry that requires client certificates lets in client.cert + client.key and refuses
// a client without them with one typed line.
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout, startRegistry, type RunningRegistry } from '../test-support/index.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';

const skip = skipWithout('the registry TLS suite');

describe.skipIf(skip)('registry TLS', () => {
  let work: string;
  let secure: RunningRegistry;
  let plain: RunningRegistry;
  let mutual: RunningRegistry;
  const clients: RegistryClient[] = [];
  // no certs.d of this machine may decide the outcome: an empty certs.d root unless told
  const client = (reg: RunningRegistry, opts: RegistryClientOptions = {}) => {
    const c = new RegistryClient(reg.host, {
      certsDirs: [join(work, 'empty-certs.d')],
      authFile: join(work, 'none.json'),
      retry: { baseDelayMs: 10, attempts: 2 },
      ...opts,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-tls-'));
    [secure, plain, mutual] = await Promise.all([
      startRegistry({ tls: true }),
      startRegistry(),
      startRegistry({ tls: true, clientCerts: true }),
    ]);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([secure?.stop(), plain?.stop(), mutual?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('an untrusted certificate is ERR_REGISTRY_TLS naming the host and how to trust it', async () => {
    const err = client(secure).ping();
    await expect(err).rejects.toMatchObject({ code: 'ERR_REGISTRY_TLS' });
    await expect(err).rejects.toThrow(
      new RegExp(
        `registry ${secure.host}: TLS certificate not trusted .*--cert-dir DIR/ca.crt or /etc/containers/certs.d/${secure.host}/ca.crt`,
      ),
    );
  });

  it('--cert-dir with ca.crt trusts it', async () => {
    const c = client(secure, { certDir: secure.caDir });
    await c.ping();
    expect(c.baseUrl).toBe(`https://${secure.host}`);
  });

  it('a certs.d tree (HOST:PORT/ca.crt) is found without --cert-dir; containers before docker', async () => {
    const containers = join(work, 'containers-certs.d');
    const docker = join(work, 'docker-certs.d');
    await mkdir(join(docker, secure.host), { recursive: true });
    await cp(join(secure.caDir!, 'ca.crt'), join(docker, secure.host, 'ca.crt'));
    await client(secure, { certsDirs: [containers, docker] }).ping();
    // an (empty) containers directory for the host wins over docker's, so trust is gone again
    await mkdir(join(containers, secure.host), { recursive: true });
    await expect(client(secure, { certsDirs: [containers, docker] }).ping()).rejects.toMatchObject({ code: 'ERR_REGISTRY_TLS' });
  });

  it('tlsVerify false accepts the untrusted certificate', async () => {
    const c = client(secure, { tlsVerify: false });
    await c.ping();
    expect(c.baseUrl).toBe(`https://${secure.host}`);
  });

  it('tlsVerify false falls back to plain http', async () => {
    const c = client(plain, { tlsVerify: false });
    await c.ping();
    expect(c.baseUrl).toBe(`http://${plain.host}`);
  });

  it('plain http with TLS verification on is ERR_REGISTRY_TLS pointing at --tls-verify=false', async () => {
    await expect(client(plain).ping()).rejects.toMatchObject({
      code: 'ERR_REGISTRY_TLS',
      message: expect.stringContaining('--tls-verify=false'),
    });
  });

  describe('a registry that requires a client certificate (distribution http.tls.clientcas)', () => {
    it('--cert-dir with client.cert and client.key is let in', async () => {
      const c = client(mutual, { certDir: mutual.clientCertDir });
      await c.ping();
      expect(c.baseUrl).toBe(`https://${mutual.host}`);
      // a real request past /v2/: an unknown repository is the registry's own answer, not a TLS failure
      await expect(c.getManifest('no/such', 'latest')).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
    });

    it('the same files found in a certs.d tree (HOST:PORT/) are used without --cert-dir', async () => {
      const root = join(work, 'client-certs.d');
      await mkdir(join(root, mutual.host), { recursive: true });
      await cp(mutual.clientCertDir!, join(root, mutual.host), { recursive: true });
      await client(mutual, { certsDirs: [root] }).ping();
    });

    it('without a client certificate: one ERR_REGISTRY_TLS line saying where client.cert and client.key go', async () => {
      const err = client(mutual, { certDir: mutual.caDir }).ping();
      await expect(err).rejects.toMatchObject({ code: 'ERR_REGISTRY_TLS' });
      await expect(err).rejects.toThrow(
        new RegExp(`registry ${mutual.host}: the server refused the TLS client certificate or wants one .*client.cert and client.key`),
      );
      await expect(err).rejects.toThrow(/^[^\n]*$/);
    });

    it('a client.cert without its client.key is ERR_REGISTRY_TLS before any connection', async () => {
      const dir = join(work, 'half-identity');
      await mkdir(dir, { recursive: true });
      await cp(join(mutual.clientCertDir!, 'client.cert'), join(dir, 'client.cert'));
      await expect(client(mutual, { certDir: dir }).ping()).rejects.toMatchObject({
        code: 'ERR_REGISTRY_TLS',
        message: expect.stringContaining('has no matching client.key'),
      });
    });
  });

  it('a --cert-dir that does not exist is ERR_REGISTRY_TLS', async () => {
    await expect(client(secure, { certDir: join(work, 'missing') }).ping()).rejects.toMatchObject({ code: 'ERR_REGISTRY_TLS' });
  });
});
