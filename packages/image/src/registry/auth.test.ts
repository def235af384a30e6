// Authentication against real registries: htpasswd Basic over TLS, and the Bearer token flow
// against a token server that signs its tokens as Docker Hub's does.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestLayout,
  pushTestLayout,
  skipWithout,
  startRegistry,
  type RunningRegistry,
  type TestLayout,
} from '../test-support/index.js';
import { RegistryClient } from './client.js';

const skip = skipWithout('the registry auth suite');
const quick = { retry: { baseDelayMs: 10 } };

describe.skipIf(skip)('registry auth', () => {
  let work: string;
  let layout: TestLayout;
  let basic: RunningRegistry;
  let token: RunningRegistry;
  const clients: RegistryClient[] = [];
  const client = (reg: RunningRegistry, opts: ConstructorParameters<typeof RegistryClient>[1] = {}) => {
    const c = new RegistryClient(reg.host, {
      certDir: reg.caDir,
      tlsVerify: !!reg.caDir,
      authFile: join(work, 'no-auth.json'),
      ...quick,
      ...opts,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-auth-'));
    layout = await buildTestLayout(join(work, 'layout'), { layers: 1 });
    [basic, token] = await Promise.all([startRegistry({ tls: true, auth: 'basic' }), startRegistry({ auth: 'token' })]);
    await pushTestLayout(layout, basic, 'private/app');
    await pushTestLayout(layout, token, 'private/app');
    await pushTestLayout(layout, token, 'public/app');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([basic?.stop(), token?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  describe('Basic (htpasswd over TLS)', () => {
    it('the right credentials read a manifest', async () => {
      const m = await client(basic, { creds: basic.creds }).getManifest('private/app', 'latest');
      expect(m.digest).toBe(layout.images[0].manifest.digest);
    });

    it('a wrong password is ERR_REGISTRY_AUTH naming the registry and the user', async () => {
      const err = client(basic, { creds: { username: 'tester', password: 'wrong' } }).getManifest('private/app', 'latest');
      await expect(err).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
      await expect(err).rejects.toThrow(new RegExp(`registry ${basic.host} refused the credentials of user "tester"`));
    });

    it('no credentials is ERR_REGISTRY_AUTH saying none were given', async () => {
      await expect(client(basic).getManifest('private/app', 'latest')).rejects.toThrow(
        /requires authentication.*no credentials were given/,
      );
    });

    it('credentials come from the auth file when none are passed', async () => {
      const authFile = join(work, 'auth.json');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(
        authFile,
        JSON.stringify({
          auths: { [basic.host]: { auth: Buffer.from(`${basic.creds!.username}:${basic.creds!.password}`).toString('base64') } },
        }),
      );
      const m = await client(basic, { authFile }).getManifest('private/app', 'latest');
      expect(m.digest).toBe(layout.images[0].manifest.digest);
    });
  });

  describe('Bearer tokens (token server)', () => {
    it('anonymous pull of a public repository gets an anonymous token', async () => {
      const before = token.tokenServer!.requests.length;
      const m = await client(token).getManifest('public/app', 'latest');
      expect(m.digest).toBe(layout.images[0].manifest.digest);
      const asked = token.tokenServer!.requests.slice(before);
      expect(asked).toEqual([{ scopes: ['repository:public/app:pull'], service: 'graphdriver-test-registry', user: null, status: 200 }]);
    });

    it('anonymous pull of a private repository is ERR_REGISTRY_AUTH (no credentials given)', async () => {
      await expect(client(token).getManifest('private/app', 'latest')).rejects.toThrow(
        new RegExp(`registry ${token.host} requires authentication for repository:private/app:pull and no credentials were given`),
      );
    });

    it('a wrong password is refused by the token server: ERR_REGISTRY_AUTH', async () => {
      const err = client(token, { creds: { username: 'tester', password: 'nope' } }).getManifest('private/app', 'latest');
      await expect(err).rejects.toMatchObject({
        code: 'ERR_REGISTRY_AUTH',
        message: expect.stringContaining('refused the credentials of user "tester"'),
      });
    });

    it('tokens are cached per scope: one token request per scope, however many requests', async () => {
      const c = client(token, { creds: token.creds });
      const before = token.tokenServer!.requests.length;
      const img = layout.images[0];
      // several requests, some in parallel, on one scope; then one on another scope
      await c.getManifest('private/app', 'latest');
      await Promise.all([
        c.getManifest('private/app', img.manifest.digest),
        c.blobSize('private/app', img.config.digest),
        c.blobSize('private/app', img.layers[0].digest),
      ]);
      const blob = await c.getBlob('private/app', img.config.digest, { verify: true });
      for await (const _ of blob) void _;
      await c.getManifest('public/app', 'latest');
      const asked = token.tokenServer!.requests.slice(before);
      expect(asked.map((r) => [r.scopes.join(' '), r.user, r.status])).toEqual([
        ['repository:private/app:pull', 'tester', 200],
        ['repository:public/app:pull', 'tester', 200],
      ]);
    });

    it('a cross-repository mount asks one token for both scopes (push on the target, pull on the source)', async () => {
      const c = client(token, { creds: token.creds });
      const before = token.tokenServer!.requests.length;
      expect(await c.mountBlob('private/mounted', layout.images[0].layers[0].digest, 'private/app')).toBe(true);
      expect(token.tokenServer!.requests.slice(before).map((r) => [...r.scopes].sort())).toEqual([
        ['repository:private/app:pull', 'repository:private/mounted:pull,push'],
      ]);
      expect(await c.blobSize('private/mounted', layout.images[0].layers[0].digest)).toBe(layout.images[0].layers[0].size);
    });

    it('a push asks for pull,push on the repository and gets it with credentials', async () => {
      const c = client(token, { creds: token.creds });
      const { Readable } = await import('node:stream');
      const data = Buffer.from('pushed with a token\n');
      const before = token.tokenServer!.requests.length;
      const got = await c.uploadBlob('private/pushed', () => Readable.from([data]));
      expect(got.size).toBe(data.length);
      expect(token.tokenServer!.requests.slice(before).map((r) => r.scopes)).toContainEqual(['repository:private/pushed:pull,push']);
    });
  });
});
