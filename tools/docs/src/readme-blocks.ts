// The ```ts blocks of the repo's READMEs, with the marker a block may carry on its first line:
//   // @docs-test compile-only: <why>   type-checked, not run (needs root or a backing system)
//   // @docs-test fragment: <why>       neither (a piece of code that names your own classes)
// Anything else is type-checked and run as an unprivileged user.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type BlockMode = 'run' | 'compile-only' | 'fragment';

export interface ReadmeBlock {
  /** README path relative to the repo, and the block's line there. */
  file: string;
  line: number;
  code: string;
  mode: BlockMode;
  why?: string;
}

const MARKER = /^\s*\/\/\s*@docs-test\s+(compile-only|fragment)\s*:\s*(.+)$/;

export function readmeFiles(repo: string): string[] {
  const out = ['README.md'];
  for (const group of ['packages', 'tools']) {
    for (const name of readdirSync(join(repo, group)).sort()) {
      if (existsSync(join(repo, group, name, 'README.md'))) out.push(`${group}/${name}/README.md`);
    }
  }
  return out;
}

export function readmeBlocks(repo: string, file: string): ReadmeBlock[] {
  const lines = readFileSync(join(repo, file), 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(start, end);
    const m = MARKER.exec(body[0] ?? '');
    blocks.push({ file, line: start, code: `${body.join('\n')}\n`, mode: m ? (m[1] as BlockMode) : 'run', why: m?.[2] });
    i = end;
  }
  return blocks;
}
