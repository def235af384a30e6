// The auth file: podman's look-up order, Docker's keys for Docker Hub, and login/logout
// against a real registry writing and removing the entry with mode 0600.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout, startRegistry, type RunningRegistry } from '../test-support/index.js';
import { authFileCandidates, authFileForWrite, findCredentials, storeCredentials } from './auth-file.js';
import { login, logout } from './login.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('auth file look-up', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-authfile-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it('searches as podman does: explicit, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR, ~/.config, ~/.docker', () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/7' };
    expect(authFileCandidates({ env, home: '/h' })).toEqual([
      '/run/user/7/containers/auth.json',
      '/h/.config/containers/auth.json',
      '/h/.docker/config.json',
    ]);
    expect(authFileCandidates({ env: {}, home: '/h' })).toEqual(['/h/.config/containers/auth.json', '/h/.docker/config.json']);
    expect(authFileCandidates({ env: { ...env, REGISTRY_AUTH_FILE: '/a.json' }, home: '/h' })).toEqual(['/a.json']);
    expect(authFileCandidates({ authFile: '/x.json', env: { REGISTRY_AUTH_FILE: '/a.json' } })).toEqual(['/x.json']);
    expect(authFileForWrite({ env, home: '/h' })).toBe('/run/user/7/containers/auth.json');
  });

  it("reads Docker's config.json: Docker Hub under https://index.docker.io/v1/, others by host or URL", async () => {
    const home = join(work, 'home1');
    await mkdir(join(home, '.docker'), { recursive: true });
    await writeFile(
      join(home, '.docker/config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
          'https://reg.example:5000': { auth: b64('u5000:p') },
          'reg.example/team': { auth: b64('team:p') },
          'reg.example': { auth: b64('plain:p:with:colons') },
        },
        credsStore: 'ignored',
      }),
    );
    const o = { env: {}, home };
    expect(await findCredentials('docker.io', o)).toEqual({ username: 'hubuser', password: 'hubpass' });
    expect(await findCredentials('registry-1.docker.io', o)).toEqual({ username: 'hubuser', password: 'hubpass' });
    expect(await findCredentials('reg.example:5000', o)).toEqual({ username: 'u5000', password: 'p' });
    expect(await findCredentials('reg.example', o)).toEqual({ username: 'plain', password: 'p:with:colons' });
    expect(await findCredentials('reg.example', { ...o, repository: 'team/app' })).toEqual({ username: 'team', password: 'p' });
    expect(await findCredentials('other.example', o)).toBeUndefined();
  });

  it('the first file with an entry wins; a file that is not JSON is a clear error', async () => {
    const home = join(work, 'home2');
    const xdg = join(work, 'xdg2');
    await mkdir(join(xdg, 'containers'), { recursive: true });
    await mkdir(join(home, '.config/containers'), { recursive: true });
    await writeFile(join(xdg, 'containers/auth.json'), JSON.stringify({ auths: { 'a.example': { auth: b64('first:1') } } }));
    await writeFile(
      join(home, '.config/containers/auth.json'),
      JSON.stringify({ auths: { 'a.example': { auth: b64('second:2') }, 'b.example': { auth: b64('b:2') } } }),
    );
    const o = { env: { XDG_RUNTIME_DIR: xdg }, home };
    expect(await findCredentials('a.example', o)).toEqual({ username: 'first', password: '1' });
    expect(await findCredentials('b.example', o)).toEqual({ username: 'b', password: '2' });
    await writeFile(join(xdg, 'containers/auth.json'), '{not json');
    await expect(findCredentials('a.example', o)).rejects.toMatchObject({
      code: 'ERR_REGISTRY_AUTH',
      message: expect.stringContaining('is not valid JSON'),
    });
  });

  it("writing Docker Hub into Docker's config.json uses Docker's key and keeps the file's other settings", async () => {
    const file = join(work, 'docker-home/.docker/config.json');
    await mkdir(join(work, 'docker-home/.docker'), { recursive: true });
    await writeFile(file, JSON.stringify({ auths: { 'index.docker.io': { auth: b64('old:old') } }, psFormat: 'table' }));
    await storeCredentials('docker.io', { username: 'new', password: 'pw' }, { authFile: file });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      auths: { 'https://index.docker.io/v1/': { auth: b64('new:pw') } },
      psFormat: 'table',
    });
  });
});

const skip = skipWithout('the login/logout suite');

describe.skipIf(skip)('login and logout against a real registry', () => {
  let work: string;
  let reg: RunningRegistry;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-login-'));
    reg = await startRegistry({ tls: true, auth: 'basic' });
  });
  afterAll(async () => {
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('login checks the credentials, then writes the entry with mode 0600 (directory 0700)', async () => {
    const authFile = join(work, 'new-dir/auth.json');
    const { authFile: written } = await login(reg.host, reg.creds!, { authFile, certDir: reg.caDir });
    expect(written).toBe(authFile);
    expect((await stat(authFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(work, 'new-dir'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(authFile, 'utf8'))).toEqual({
      auths: { [reg.host]: { auth: b64(`${reg.creds!.username}:${reg.creds!.password}`) } },
    });
    expect(await findCredentials(reg.host, { authFile })).toEqual(reg.creds);
  });

  it('a wrong password is ERR_REGISTRY_AUTH and writes nothing', async () => {
    const authFile = join(work, 'wrong.json');
    await expect(
      login(reg.host, { username: reg.creds!.username, password: 'bad' }, { authFile, certDir: reg.caDir }),
    ).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
    await expect(stat(authFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('login via $REGISTRY_AUTH_FILE keeps other entries; logout removes only this registry', async () => {
    const authFile = join(work, 'env.json');
    await writeFile(authFile, JSON.stringify({ auths: { 'other.example': { auth: b64('o:o') } } }), { mode: 0o644 });
    const env = { REGISTRY_AUTH_FILE: authFile };
    await login(reg.host, reg.creds!, { env, certDir: reg.caDir });
    expect(Object.keys(JSON.parse(await readFile(authFile, 'utf8')).auths).sort()).toEqual(
      ['127.0.0.1:' + reg.port, 'other.example'].sort(),
    );
    expect((await stat(authFile)).mode & 0o777).toBe(0o600);
    expect(await logout(reg.host, { env })).toEqual({ authFile, removed: true });
    expect(JSON.parse(await readFile(authFile, 'utf8'))).toEqual({ auths: { 'other.example': { auth: b64('o:o') } } });
    expect((await logout(reg.host, { env })).removed).toBe(false);
  });
});
