// Reaching into a running registry's own filesystem storage (distribution's layout), to
// corrupt content behind its back as a broken disk or a hostile mirror would.
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** The file that holds a blob's (or manifest's) bytes: docker/registry/v2/blobs/sha256/xx/HEX/data. */
export function blobDataPath(storage: string, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/**
 * Changes one byte of a stored blob in place (size unchanged, so the registry serves it
 * without noticing). `offset` defaults to the middle of the blob; `replace` maps the old byte
 * to the new one (default: flip the low bit, which keeps ASCII printable in JSON).
 */
export async function tamperBlob(
  storage: string,
  digest: string,
  opts: { offset?: number; replace?: (byte: number) => number } = {},
): Promise<void> {
  const fh = await open(blobDataPath(storage, digest), 'r+');
  try {
    const { size } = await fh.stat();
    const offset = opts.offset ?? Math.floor(size / 2);
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, offset);
    one[0] = opts.replace ? opts.replace(one[0]) : one[0] ^ 1;
    await fh.write(one, 0, 1, offset);
  } finally {
    await fh.close();
  }
}
