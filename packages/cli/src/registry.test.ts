// The CLI's registry commands against a real docker-registry (TLS + htpasswd): login, pull,
// push, logout, their flags and output forms, and one typed line per failure. The protocol
// and pipeline are tested in @graphdriver/image; this is the shell over them.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImageFixture, startRegistry, type ImageFixture, type RunningRegistry } from '@graphdriver/image/testing';
import { runCli, runJson } from './test-support/run-cli.js';
import { missingPrograms, requireBackingSystem } from '@graphdriver/core/testing';

const missing = missingPrograms(['docker-registry', 'openssl', 'htpasswd', 'skopeo', 'umoci', 'busybox']);
if (process.getuid?.() !== 0) missing.push('root');
requireBackingSystem('the CLI registry suite', missing);

let work: string;
let fx: ImageFixture;
let reg: RunningRegistry;
const g = () => ['--root', join(work, 'root'), '--driver', 'vfs'];

beforeAll(async () => {
  if (missing.length) return;
  work = await mkdtemp(join(tmpdir(), 'gd-cli-registry-'));
  fx = await buildImageFixture(join(work, 'fixture'));
  reg = await startRegistry({ tls: true, auth: 'basic' });
}, 600_000);
afterAll(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Transfer {
  manifest: string;
  config: string;
  top: string;
  layers: Array<{ id: string; digest: string; diffId: string; size: number; skipped: boolean }>;
}

describe.skipIf(missing.length > 0)('graphdriver login, push, pull, logout', () => {
  const authfile = () => join(work, 'auth.json');
  const tls = () => ['--cert-dir', reg.caDir!, '--authfile', authfile()];

  it('login checks the credentials first: a wrong password is one ERR_REGISTRY_AUTH line and writes nothing', async () => {
    const r = await runCli(['login', reg.host, '-u', reg.creds!.username, '--password-stdin', ...tls()], { input: 'wrong\n' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^graphdriver: ERR_REGISTRY_AUTH: [^\n]*\n$/);
    await expect(readFile(authfile())).rejects.toMatchObject({ code: 'ENOENT' });
    const ok = await runCli(['login', reg.host, '-u', reg.creds!.username, '--password-stdin', ...tls()], {
      input: `${reg.creds!.password}\n`,
    });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^Login Succeeded/);
    expect(JSON.parse(await readFile(authfile(), 'utf8')).auths[reg.host]).toBeDefined();
  });

  it('push -q prints the manifest digest; pull -q the top layer; --json one document with every layer', async () => {
    const imported = await runJson<Transfer>([...g(), 'import', `oci:${fx.layout}:v4`]);
    const pushed = await runCli([
      ...g(),
      '-q',
      'push',
      imported.top,
      `${reg.host}/cli/app:1`,
      ...tls(),
      '--jobs',
      '2',
      '--compression',
      'zstd',
    ]);
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/^sha256:[a-f0-9]{64}\n$/);

    const pulled = await runCli([
      '--root',
      join(work, 'root2'),
      '--driver',
      'vfs',
      '-q',
      'pull',
      `docker://${reg.host}/cli/app:1`,
      ...tls(),
      '--platform',
      'linux/amd64',
    ]);
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(pulled.stdout.trim()).toMatch(/^[a-f0-9]{64}$/);

    const again = await runJson<Transfer>(['--root', join(work, 'root2'), '--driver', 'vfs', 'pull', `${reg.host}/cli/app:1`, ...tls()]);
    expect(again.manifest).toBe(pushed.stdout.trim());
    expect(again.top).toBe(pulled.stdout.trim());
    expect(again.config).toMatch(/^sha256:/);
    expect(again.layers).toHaveLength(5);
    for (const l of again.layers)
      expect(l).toMatchObject({
        id: expect.stringMatching(/^[a-f0-9]{64}$/),
        digest: expect.stringMatching(/^sha256:/),
        diffId: expect.stringMatching(/^sha256:/),
        size: expect.any(Number),
        skipped: true,
      });

    const text = await runCli([...g(), 'push', imported.top, `${reg.host}/cli/app:2`, ...tls()]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/exported [a-f0-9]{64} to .*cli\/app:2: manifest sha256:/);
  });

  it("push --platform sets the platform the image's config declares; without it, this host's", async () => {
    const imported = await runJson<Transfer>([...g(), 'import', `oci:${fx.layout}:v4`]);
    const config = (ref: string) =>
      JSON.parse(
        execFileSync('skopeo', [
          'inspect',
          '--config',
          '--cert-dir',
          reg.caDir!,
          '--creds',
          `${reg.creds!.username}:${reg.creds!.password}`,
          `docker://${reg.host}/${ref}`,
        ]).toString(),
      ) as { os: string; architecture: string; variant?: string };
    const arm = await runCli([...g(), '-q', 'push', imported.top, `${reg.host}/cli/arm:1`, ...tls(), '--platform', 'linux/arm64/v8']);
    expect(arm.status, arm.stderr).toBe(0);
    expect(config('cli/arm:1')).toMatchObject({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    const host = await runCli([...g(), '-q', 'push', imported.top, `${reg.host}/cli/host:1`, ...tls()]);
    expect(host.status, host.stderr).toBe(0);
    const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch;
    expect(config('cli/host:1')).toMatchObject({ os: 'linux', architecture: arch });
    // the layers are the same blobs either way: only the config differs
    expect(arm.stdout.trim()).not.toBe(host.stdout.trim());
  });

  it('bad flags and references are usage errors (exit 2); a missing image is ERR_IMAGE_NOT_FOUND', async () => {
    for (const args of [
      ['pull', `${reg.host}/cli/app:1`, '--jobs', '0'],
      ['pull', `${reg.host}/cli/app:1`, '--platform', 'linux'],
      ['pull', `${reg.host}/cli/App:1`],
      ['pull', `${reg.host}/cli/app:1`, '--tls-verify=maybe'],
      ['push', 'x', `${reg.host}/cli/app:1`, '--compression', 'bzip2'],
      ['import', 'dir:/tmp/x'],
    ]) {
      const r = await runCli([...g(), ...args, ...tls()]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^graphdriver: ERR_(USAGE|INVALID_REFERENCE): /);
    }
    const nf = await runCli([...g(), 'pull', `${reg.host}/cli/nothing:1`, ...tls()]);
    expect(nf.status).toBe(1);
    expect(nf.stderr).toMatch(/^graphdriver: ERR_IMAGE_NOT_FOUND: [^\n]*\n$/);
  });

  it('logout removes the credentials; a pull then is refused with ERR_REGISTRY_AUTH', async () => {
    const out = await runCli(['logout', reg.host, '--authfile', authfile()]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^Removed login credentials/);
    const r = await runCli(['--root', join(work, 'root3'), '--driver', 'vfs', 'pull', `${reg.host}/cli/app:1`, ...tls()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^graphdriver: ERR_REGISTRY_AUTH: [^\n]*\n$/);
  });
});
