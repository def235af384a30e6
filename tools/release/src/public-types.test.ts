// Every type a published package's exported signatures name is itself exported.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryPoints, unexportedPublicTypes } from './public-types.js';
import { publishedPackages, repoDir } from './workspace.js';

describe('public types', () => {
  it.each(publishedPackages().map((p) => [p.json.name, p] as const))('%s exports every type its exports name', (_n, p) => {
    const dir = join(repoDir, p.dir);
    const entries = entryPoints(dir, p.json as { exports?: Record<string, unknown> });
    expect(entries.length, 'entry points found').toBeGreaterThan(0);
    expect(unexportedPublicTypes(dir, entries)).toEqual([]);
  });
});
