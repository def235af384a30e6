// What `pnpm pack` puts in each published package: the licence, the README, the metadata a
// registry page shows, and ranges without pnpm's workspace: protocol.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { publishedPackages, repoDir } from './workspace.js';

const out = mkdtempSync(join(tmpdir(), 'gd-tarballs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const license = readFileSync(join(repoDir, 'LICENSE'), 'utf8');

describe('published tarballs', () => {
  it('the root LICENSE is the Apache License 2.0, as every package.json says', () => {
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    for (const p of publishedPackages()) expect(p.json.license, p.json.name).toBe('Apache-2.0');
  });

  it.each(publishedPackages().map((p) => [p.json.name, p] as const))('%s: LICENSE, README and metadata in the tarball', (_name, p) => {
    const dest = join(out, p.dir.replace('/', '-'));
    const json = JSON.parse(
      execFileSync('pnpm', ['pack', '--json', '--pack-destination', dest], { cwd: join(repoDir, p.dir), encoding: 'utf8' }),
    ) as { filename: string };
    const files = execFileSync('tar', ['-tzf', json.filename], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(files).toContain('package/LICENSE');
    expect(files).toContain('package/README.md');
    expect(execFileSync('tar', ['-xzOf', json.filename, 'package/LICENSE'], { encoding: 'utf8' })).toBe(license);
    const packed = JSON.parse(execFileSync('tar', ['-xzOf', json.filename, 'package/package.json'], { encoding: 'utf8' }));
    expect(packed.repository).toEqual({ type: 'git', url: 'git+https://github.com/graphdriver/graphdriver.git', directory: p.dir });
    expect(packed.homepage).toMatch(/^https:\/\//);
    expect(packed.bugs?.url).toMatch(/^https:\/\/.*\/issues$/);
    expect(packed.keywords?.length).toBeGreaterThan(2);
    expect(JSON.stringify(packed), 'a workspace: range left in the published package.json').not.toContain('workspace:');
    if (packed.peerDependencies?.['@graphdriver/core']) expect(packed.peerDependencies['@graphdriver/core']).toBe('>=0.0.0 <1');
  });
});
