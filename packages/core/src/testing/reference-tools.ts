// Where the two references of the interop tests and benchmarks are: Docker's own layer code
// (moby-archive-bench, tools/peer) and a real root filesystem with a child layer (the Debian
// corpus, tools/corpus). tools/setup/install.sh builds both; an environment variable points
// elsewhere. Plain Node (no vitest): benchmarks use it too.
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requireBackingSystem } from './backing-system.js';

/** Where tools/setup/install.sh links the moby reference peer (moby-archive-bench). */
export const PEER_INSTALL_PATH = '/usr/local/bin/moby-archive-bench';
/** Where tools/setup/install.sh builds the Debian corpus (base/, upper/, base.tar). */
export const CORPUS_INSTALL_PATH = '/var/cache/graphdriver-corpus';

/** The reference a test can need: the moby archive peer (a Go program), or the Debian tree corpus. */
export type ReferenceTool = 'peer' | 'corpus';

const HOW: Record<ReferenceTool, string> = {
  peer: `moby-archive-bench (env MOBY_ARCHIVE_BENCH, else ${PEER_INSTALL_PATH}); build it with tools/setup/install.sh or bash tools/peer/build.sh ${PEER_INSTALL_PATH}`,
  corpus: `the Debian corpus (env GRAPHDRIVER_CORPUS, else ${CORPUS_INSTALL_PATH}: base/, upper/, base.tar); build it with tools/setup/install.sh or bash tools/corpus/make-corpus.sh DIR`,
};

/** The moby reference peer's path: env MOBY_ARCHIVE_BENCH, else the installed one; null when not executable. */
export function referencePeer(): string | null {
  const path = process.env.MOBY_ARCHIVE_BENCH || PEER_INSTALL_PATH;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

/** The corpus directory: env GRAPHDRIVER_CORPUS, else the installed one; null unless base/, upper/ and base.tar are there. */
export function referenceCorpus(): string | null {
  const dir = process.env.GRAPHDRIVER_CORPUS || CORPUS_INSTALL_PATH;
  const complete = existsSync(join(dir, 'base', 'etc')) && existsSync(join(dir, 'upper', 'etc')) && existsSync(join(dir, 'base.tar'));
  return complete ? dir : null;
}

/**
 * The reference's path for a test file, or null after a loud warning that `what` is skipped.
 * Under CI (CI=true) a missing reference throws instead: CI must run every interop test.
 */
export function requireReference(tool: ReferenceTool, what: string): string | null {
  const path = tool === 'peer' ? referencePeer() : referenceCorpus();
  if (path) return path;
  requireBackingSystem(what, `needs ${HOW[tool]}`);
  return null;
}

/** One line for a script that cannot go on without the reference. */
export function missingReference(tool: ReferenceTool): string {
  return `missing ${HOW[tool]}`;
}
