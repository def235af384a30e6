// Extended attributes without following symlinks, over @napi-rs/xattr (which calls the
// l*xattr family: checked, a symlink's own attributes are read and written). The native
// module is loaded on first use only, so that code paths that never meet an xattr do not
// depend on it; failures carry a Node-style `code`/`errno` so callers can branch.
import { constants } from 'node:os';
import { ErrorCode, GraphDriverError } from '../errors.js';

interface Binding {
  setAttributeSync(path: string, name: string, value: Uint8Array | string): void;
  getAttributeSync(path: string, name: string): Buffer | null;
  listAttributesSync(path: string): string[];
  removeAttributeSync(path: string, name: string): void;
}

let binding: Binding | undefined;
let loading: Promise<Binding> | undefined;

/** Loads the native binding (once). Throws ERR_PREREQUISITES when it cannot be loaded. */
export function loadXattr(): Promise<Binding> {
  if (binding) return Promise.resolve(binding);
  loading ??= import('@napi-rs/xattr').then(
    (m) => {
      const mod = m as unknown as Partial<Binding> & { default?: Binding };
      binding = (typeof mod.setAttributeSync === 'function' ? mod : mod.default) as Binding;
      return binding;
    },
    (err: unknown) => {
      loading = undefined;
      throw new GraphDriverError(ErrorCode.Prerequisites, 'extended attributes unavailable: @napi-rs/xattr did not load', {
        cause: err,
      });
    },
  );
  return loading;
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
