// Every ```ts block in every README, as a reader would use it: type-checked against the built
// packages (installed into a scratch node_modules), then run as an unprivileged user (uid
// 65534) in a folder of its own holding a small `rootfs.tar`. Build first:
// `pnpm turbo run build --filter @graphdriver/cli...`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeBlocks, readmeFiles, type ReadmeBlock } from './readme-blocks.js';
import { publishedPackages, repoDir } from '../../release/src/workspace.js';

const NOBODY = 65534;
const blocks: ReadmeBlock[] = readmeFiles(repoDir).flatMap((f) => readmeBlocks(repoDir, f));
const name = (b: ReadmeBlock) => `${b.file}:${b.line}`;
const slug = (b: ReadmeBlock) => name(b).replace(/[^A-Za-z0-9]+/g, '-');
let work = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gd-readme-'));
  chmodSync(work, 0o755);
  const scope = join(work, 'node_modules', '@graphdriver');
  mkdirSync(scope, { recursive: true });
  for (const p of publishedPackages()) symlinkSync(join(repoDir, p.dir), join(work, 'node_modules', p.json.name));
  mkdirSync(join(work, 'node_modules', '@types'));
  symlinkSync(join(repoDir, 'node_modules', '@types', 'node'), join(work, 'node_modules', '@types', 'node'));
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['blocks/*.mts'],
    }),
  );
  mkdirSync(join(work, 'blocks'));
  for (const b of blocks) if (b.mode !== 'fragment') writeFileSync(join(work, 'blocks', `${slug(b)}.mts`), `${b.code}export {};\n`);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('README examples', () => {
  it("finds the root README example and the packages' blocks", () => {
    expect(blocks.filter((b) => b.file === 'README.md' && b.mode === 'run')).toHaveLength(1);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const b of blocks.filter((x) => x.mode !== 'run'))
      console.warn(`[readme] ${name(b)}: ${b.mode === 'fragment' ? 'not compiled or run' : 'compiled, not run'}: ${b.why}`);
  });

  it('every block but the fragments type-checks against the built packages', () => {
    const tsc = join(repoDir, 'node_modules', '.bin', 'tsc');
    const r = spawnSync(tsc, ['-p', work], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(blocks.filter((b) => b.mode === 'run').map((b) => [name(b), b] as const))('%s runs as uid 65534', (_n, b) => {
    const dir = join(work, 'run', slug(b));
    mkdirSync(join(dir, 'src/etc'), { recursive: true });
    writeFileSync(join(dir, 'src/etc/os-release'), 'NAME=readme\n');
    execFileSync('tar', ['-cf', join(dir, 'rootfs.tar'), '-C', join(dir, 'src'), '.']);
    const js = transformSync(b.code, { loader: 'ts', format: 'esm' }).code;
    // inside the scratch folder, so that '@graphdriver/...' resolves to the built packages
    const file = join(work, 'blocks', `${slug(b)}.mjs`);
    writeFileSync(file, js);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
    const r = spawnSync(process.execPath, [file], {
      cwd: dir,
      uid: NOBODY,
      gid: NOBODY,
      env: { PATH: process.env.PATH, HOME: dir },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(`${r.stderr}`, `${name(b)} failed:\n${r.stdout}`).toBe('');
    expect(r.status).toBe(0);
    if (b.file === 'README.md') {
      // the root example: a user's store under their home, and the change it made
      expect(r.stdout).toContain("'A /hello.txt'");
      expect(existsSync(join(dir, '.local/share/graphdriver/vfs'))).toBe(true);
    }
  });
});
