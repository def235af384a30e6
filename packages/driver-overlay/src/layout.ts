// moby's overlay2 layout on disk, so that people who know Docker's store know ours:
//
//   home/<id>/diff      the layer's own content: overlay's upper dir
//   home/<id>/link      its short id (26 base32 characters)
//   home/<id>/lower     "l/SHORT:l/SHORT:..." of its parents, nearest first (none for a base)
//   home/<id>/work      overlay's work dir
//   home/<id>/merged    where the layer is mounted
//   home/l/SHORT        -> ../<id>/diff, so that mount options stay short for deep chains
//
// Beyond Docker: layers are built under home/tmp/ and renamed into place (atomic create).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LINK_DIR = 'l';
export const TMP_DIR = 'tmp';
/** Names in home that are not layers (core's index `layers` and lock files besides). */
export const RESERVED = new Set([LINK_DIR, TMP_DIR]);

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** moby's randomid: 26 base32 characters from 128 random bits. */
export function newShortId(): string {
  const bytes = randomBytes(17);
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      bits -= 5;
      out += BASE32[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

const SHORT_ID = /^[A-Z2-7]{26}$/;
export const isShortId = (s: string) => SHORT_ID.test(s);

export class Layout {
  constructor(readonly home: string) {}

  dir(id: string): string {
    return join(this.home, id);
  }
  diff(id: string): string {
    return join(this.home, id, 'diff');
  }
  work(id: string): string {
    return join(this.home, id, 'work');
  }
  merged(id: string): string {
    return join(this.home, id, 'merged');
  }
  linkFile(id: string): string {
    return join(this.home, id, 'link');
  }
  lowerFile(id: string): string {
    return join(this.home, id, 'lower');
  }
  linkDir(): string {
    return join(this.home, LINK_DIR);
  }
  tmpDir(): string {
    return join(this.home, TMP_DIR);
  }
  /** home/l/SHORT, the symlink to a layer's diff dir. */
  link(short: string): string {
    return join(this.home, LINK_DIR, short);
  }

  async shortId(id: string): Promise<string> {
    const s = (await readFile(this.linkFile(id), 'utf8')).trim();
    if (!isShortId(s)) throw new Error(`${this.linkFile(id)} holds no short id`);
    return s;
  }

  /** The `lower` entries ("l/SHORT"), nearest parent first; [] for a base layer. */
  async lowers(id: string): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.lowerFile(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const parts = text.trim().split(':').filter(Boolean);
    for (const p of parts) {
      if (!p.startsWith(`${LINK_DIR}/`) || !isShortId(p.slice(LINK_DIR.length + 1))) {
        throw new Error(`${this.lowerFile(id)}: malformed entry ${JSON.stringify(p)}`);
      }
    }
    return parts;
  }

  /** Absolute diff dirs of the parents, nearest first (through the l/ links). */
  async lowerDirs(id: string): Promise<string[]> {
    return (await this.lowers(id)).map((l) => join(this.home, l));
  }
}
