// Node >= 22.1 can keep V8's compiled code of every module (ES and CommonJS) on disk and
// reuse it in the next process: module.enableCompileCache(). The CLI is a fresh process per
// command, so it asks for it before it loads the rest of itself. Node 20 has no such call,
// and a V8 code cache of our own (vm.Script cachedData under a CommonJS loader) bought
// nothing measurable there (tools/bench/RESULTS.md, "cold start"), so on Node 20 this does
// nothing. Node's own switches still apply: NODE_DISABLE_COMPILE_CACHE=1 turns it off,
// NODE_COMPILE_CACHE=dir moves it (default: a directory under os.tmpdir()).
import module from 'node:module';

type EnableCompileCache = (dir?: string) => { status: number; message?: string; directory?: string };
type Statuses = { compileCacheStatus?: { ENABLED: number; ALREADY_ENABLED: number } };

/**
 * Turns on Node's on-disk compile cache where Node has it; never throws (an unwritable cache
 * directory only means no cache). Returns the cache directory in use, or undefined when
 * there is none (Node < 22.1, disabled, or it could not be set up).
 */
export function enableCompileCache(): string | undefined {
  const m = module as unknown as { enableCompileCache?: EnableCompileCache; constants?: Statuses };
  const statuses = m.constants?.compileCacheStatus;
  if (typeof m.enableCompileCache !== 'function' || !statuses) return undefined;
  try {
    const result = m.enableCompileCache();
    // FAILED (an unwritable directory) and DISABLED (NODE_DISABLE_COMPILE_CACHE) leave no cache
    const on = result.status === statuses.ENABLED || result.status === statuses.ALREADY_ENABLED;
    return on ? result.directory : undefined;
  } catch {
    return undefined;
  }
}
