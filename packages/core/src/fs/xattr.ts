// Extended attributes without following symlinks, over @napi-rs/xattr (which calls the
// l*xattr family: checked, a symlink's own attributes are read and written). The native
// module is loaded on first use only, so that code paths that never meet an xattr do not
// depend on it; failures carry a Node-style `code`/`errno` so callers can branch.
//
// It is loaded with require(), not import(): @napi-rs/xattr is CommonJS, and importing
// CommonJS from ES modules makes Node scan its 23 KB loader with cjs-module-lexer, a hot
// loop that V8 then compiles on a background thread (~30 ms of CPU) just as the caller
// starts its first diff.
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { ErrorCode, GraphDriverError } from '../errors.js';

export interface Binding {
  setAttributeSync(path: string, name: string, value: Uint8Array | string): void;
  getAttributeSync(path: string, name: string): Buffer | null;
  listAttributesSync(path: string): string[];
  removeAttributeSync(path: string, name: string): void;
}

let binding: Binding | undefined;

/**
 * The native binding, loaded on the first call. Throws ERR_PREREQUISITES when it cannot be
 * loaded (and tries again on the next call).
 */
export function xattrBinding(): Binding {
  if (binding) return binding;
  try {
    // import.meta.url in the ES module build; the CommonJS build has __filename instead.
    const load = createRequire(import.meta.url ?? __filename);
    const mod = load('@napi-rs/xattr') as Partial<Binding> & { default?: Binding };
    binding = (typeof mod.setAttributeSync === 'function' ? mod : mod.default) as Binding;
  } catch (err) {
    throw new GraphDriverError(ErrorCode.Prerequisites, 'extended attributes unavailable: @napi-rs/xattr did not load', {
      cause: err,
    });
  }
  return binding;
}

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);
errnoNames.set(constants.errno.ENOTSUP, 'ENOTSUP'); // == EOPNOTSUPP on Linux

export class XattrError extends Error {
  readonly code: string;
  /** Negative, as Node's own errno values. */
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;
  constructor(syscall: string, path: string, attr: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    const m = /\(os error (\d+)\)/.exec(msg);
    const num = m ? Number(m[1]) : 0;
    const code = (num && errnoNames.get(num)) || 'EUNKNOWN';
    super(`${code}: ${syscall} ${JSON.stringify(path)} ${attr}: ${msg}`, { cause });
    this.name = 'XattrError';
    this.code = code;
    this.errno = -num;
    this.syscall = syscall;
    this.path = path;
  }
}

function call<T>(syscall: string, path: string, attr: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new XattrError(syscall, path, attr, err);
  }
}

/** lsetxattr(2): sets `name` on `path` itself (a symlink is not followed). */
export function lsetxattrSync(b: Binding, path: string, name: string, value: Uint8Array): void {
  call('lsetxattr', path, name, () => b.setAttributeSync(path, name, value));
}

/** lgetxattr(2): null when the attribute is absent. */
export function lgetxattrSync(b: Binding, path: string, name: string): Buffer | null {
  return call('lgetxattr', path, name, () => b.getAttributeSync(path, name));
}

/** llistxattr(2). */
export function llistxattrSync(b: Binding, path: string): string[] {
  return call('llistxattr', path, '', () => b.listAttributesSync(path));
}

const CAPABILITY = 'security.capability';

/**
 * Docker's `Lgetxattr(path, "security.capability")` as its diff code uses it: the raw value,
 * or null when there is none (an empty value counts as none) or it cannot be read (ENOTSUP
 * and friends are ignored, as Docker does). The one extended attribute Docker compares in
 * ChangesDirs and archives in a layer. A missing native binding still throws.
 */
export function securityCapability(path: string): Buffer | null {
  const b = xattrBinding(); // (outside the try: a missing binding is an error)
  try {
    const v = b.getAttributeSync(path, CAPABILITY);
    return v !== null && v.length > 0 ? v : null;
  } catch {
    return null;
  }
}

/**
 * lgetxattr(2) of one attribute for callers outside core (a driver reading overlay's
 * trusted.overlay.opaque): the value, or null when absent or unreadable (ENOTSUP and
 * friends). A missing native binding still throws.
 */
export function readXattr(path: string, name: string): Buffer | null {
  const b = xattrBinding();
  try {
    return b.getAttributeSync(path, name);
  } catch {
    return null;
  }
}
