// The test registries themselves: each set-up starts, answers /v2/ as configured, takes a
// skopeo push (so its storage holds the pushed blobs), and stops leaving nothing behind.
import { existsSync } from 'node:fs';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestLayout, pushTestLayout, type TestLayout } from './images.js';
import { startRegistry, type RunningRegistry } from './registry.js';
import { blobDataPath } from './storage.js';
import { skipWithout } from './tools.js';

const skip = skipWithout('the test-registry suite');

async function status(url: string, ca?: string): Promise<{ status: number; challenge: string | null }> {
  const { request } = await import(url.startsWith('https') ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v2/`, { ca }, (res: import('node:http').IncomingMessage) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, challenge: (res.headers['www-authenticate'] as string | undefined) ?? null });
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)('test registries (docker-registry 2.8)', () => {
  let work: string;
  let layout: TestLayout;
  const started: RunningRegistry[] = [];
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gd-regtest-'));
    layout = await buildTestLayout(join(work, 'layout'));
  });
  afterAll(async () => {
    for (const r of started) await r.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('plain http, no auth: 200 on /v2/, takes a push', async () => {
    const reg = await startRegistry();
    started.push(reg);
    expect(await status(reg.url)).toEqual({ status: 200, challenge: null });
    await pushTestLayout(layout, reg, 'smoke/plain');
    expect(existsSync(blobDataPath(reg.storage, layout.images[0].layers[0].digest))).toBe(true);
  });

  it('TLS + htpasswd: trusted through caDir, Basic challenge, takes an authenticated push', async () => {
    const reg = await startRegistry({ tls: true, auth: 'basic' });
    started.push(reg);
    const ca = await readFile(join(reg.caDir!, 'ca.crt'), 'utf8');
    const answer = await status(reg.url, ca);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toMatch(/^Basic realm=/);
    await pushTestLayout(layout, reg, 'smoke/tls');
    expect(existsSync(blobDataPath(reg.storage, layout.images[0].config.digest))).toBe(true);
  });

  it('token auth: Bearer challenge, skopeo gets tokens from the test token server and pushes', async () => {
    const reg = await startRegistry({ auth: 'token' });
    started.push(reg);
    const answer = await status(reg.url);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toContain(`Bearer realm="${reg.tokenServer!.realm}"`);
    await pushTestLayout(layout, reg, 'smoke/token');
    expect(
      reg.tokenServer!.requests.some((r) => r.user === 'tester' && r.scopes.some((s) => s.includes('smoke/token') && s.includes('push'))),
    ).toBe(true);
    expect(existsSync(blobDataPath(reg.storage, layout.images[0].manifest.digest))).toBe(true);
  });

  it('stop kills the process and removes the storage', async () => {
    const reg = await startRegistry();
    await reg.stop();
    expect(existsSync(reg.storage)).toBe(false);
    await expect(status(reg.url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
