// The repo's packages as the release checks see them.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoDir = fileURLToPath(new URL('../../..', import.meta.url));

export interface WorkspacePackage {
  /** Folder relative to the repo, e.g. packages/core. */
  dir: string;
  json: { name: string; private?: boolean; [k: string]: unknown };
}

export function workspacePackages(): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const group of ['packages', 'tools']) {
    for (const name of readdirSync(join(repoDir, group)).sort()) {
      const file = join(repoDir, group, name, 'package.json');
      if (existsSync(file)) out.push({ dir: `${group}/${name}`, json: JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  return out;
}

/** The packages `changeset publish` publishes. */
export const publishedPackages = (): WorkspacePackage[] => workspacePackages().filter((p) => !p.json.private);
