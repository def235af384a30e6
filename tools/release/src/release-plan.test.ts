// A core minor must not force a major release of the drivers: in a scratch copy of the repo's
// package.jsons and .changeset/, add a minor changeset for core and ask changesets for its plan.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoDir, workspacePackages } from './workspace.js';

const changeset = join(repoDir, 'node_modules', '.bin', 'changeset');
const scratch = mkdtempSync(join(tmpdir(), 'gd-release-plan-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Plan {
  releases: Array<{ name: string; type: 'none' | 'patch' | 'minor' | 'major'; oldVersion: string; newVersion: string }>;
}

function git(...args: string[]) {
  execFileSync('git', ['-c', 'user.email=release@test', '-c', 'user.name=release-test', ...args], { cwd: scratch, stdio: 'pipe' });
}

describe('release plan', () => {
  it('a minor changeset for @graphdriver/core proposes no major bump for any package', () => {
    for (const f of ['package.json', 'pnpm-workspace.yaml']) cpSync(join(repoDir, f), join(scratch, f));
    cpSync(join(repoDir, '.changeset'), join(scratch, '.changeset'), { recursive: true });
    for (const p of workspacePackages()) {
      mkdirSync(join(scratch, p.dir), { recursive: true });
      writeFileSync(join(scratch, p.dir, 'package.json'), JSON.stringify(p.json, null, 2));
    }
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'scratch');
    writeFileSync(join(scratch, '.changeset', 'zz-core-minor.md'), "---\n'@graphdriver/core': minor\n---\n\nA core minor.\n");

    execFileSync(changeset, ['status', '--output', 'plan.json'], { cwd: scratch, stdio: 'pipe' });
    const plan = JSON.parse(readFileSync(join(scratch, 'plan.json'), 'utf8')) as Plan;
    const core = plan.releases.find((r) => r.name === '@graphdriver/core');
    expect(core?.type).toBe('minor');
    const majors = plan.releases.filter((r) => r.type === 'major').map((r) => `${r.name} ${r.oldVersion} -> ${r.newVersion}`);
    expect(majors).toEqual([]);
    for (const r of plan.releases) expect(r.newVersion, r.name).toMatch(/^0\./);

    // `changeset version` leaves the drivers' peer range as it is: open to every later 0.x core
    execFileSync(changeset, ['version'], { cwd: scratch, stdio: 'pipe' });
    const peers = workspacePackages().filter((p) => (p.json.peerDependencies as Record<string, string> | undefined)?.['@graphdriver/core']);
    expect(peers.length).toBeGreaterThanOrEqual(4);
    for (const p of peers) {
      const json = JSON.parse(readFileSync(join(scratch, p.dir, 'package.json'), 'utf8'));
      expect(json.peerDependencies['@graphdriver/core'], p.json.name).toBe('workspace:>=0.0.0 <1');
    }
  });
});
