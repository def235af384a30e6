// Node errno helpers: the one way drivers ask "which errno was this?".

/** The errno name of a Node error. libuv in Node 20 does not name EDQUOT, so match on the number too. */
export function errnoCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  if (e.errno === -122 || e.code === 'EDQUOT') return 'EDQUOT';
  return e.code;
}

/** True when `err` is a Node error with one of `codes` (errno names, e.g. 'ENOENT'). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoCode(err);
  return code !== undefined && codes.includes(code);
}
