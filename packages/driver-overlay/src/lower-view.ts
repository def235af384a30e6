// The parent's merged view, read from the parents' diff dirs without mounting them: what
// overlayfs would show at a path, given the lower layers nearest first. A 0/0 character
// device hides the name below it; an opaque directory hides the directories below it.
// fuse-overlayfs run by a plain user writes `.wh.NAME` files and `.wh..wh..opq` markers
// instead (form 'overlay-files'); both forms are read in that mode.
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { OVERLAY_OPAQUE_XATTR, readXattr, type WhiteoutFormat } from '@graphdriver/core';

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';
/** The opaque markers fuse-overlayfs writes or honours, besides the kernel's. */
const FUSE_OPAQUE_XATTRS = ['user.fuseoverlayfs.opaque', 'user.overlay.opaque'];
const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;

export interface Found {
  abs: string;
  st: BigIntStats;
}

export type UpperForm = Exclude<WhiteoutFormat, 'remove'>;

export function isWhiteoutDevice(st: BigIntStats): boolean {
  return (Number(st.mode) & S_IFMT) === S_IFCHR && st.rdev === 0n;
}

function lstatQuiet(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'ENOENT') return null;
    throw err;
  }
}

export class WhiteoutReader {
  constructor(readonly form: UpperForm) {}

  /** True when `dir` (a real directory of some layer) hides the directories below it. */
  isOpaque(dir: string): boolean {
    if (readXattr(dir, OVERLAY_OPAQUE_XATTR)?.toString() === 'y') return true;
    if (this.form !== 'overlay-files') return false;
    for (const name of FUSE_OPAQUE_XATTRS) if (readXattr(dir, name)?.toString() === 'y') return true;
    return lstatQuiet(`${dir}/${WH_OPAQUE}`) !== null;
  }

  /** True when `name` in layer directory `dir` is hidden by a whiteout there. */
  isWhitedOut(dir: string, name: string, st: BigIntStats | null): boolean {
    if (st !== null && isWhiteoutDevice(st)) return true;
    return this.form === 'overlay-files' && lstatQuiet(`${dir}/${WH_PREFIX}${name}`) !== null;
  }

  /** A name that is a marker, not content: `.wh.*` files in the 'overlay-files' form. */
  isMarker(name: string): boolean {
    return this.form === 'overlay-files' && name.startsWith(WH_PREFIX);
  }
}

/** The merged view of a stack of lower diff dirs. */
export class LowerView {
  /** rel dir ('' = root) -> the layers' directories that make it up, nearest first. */
  private readonly dirs = new Map<string, string[] | null>();

  constructor(
    lowers: readonly string[],
    private readonly wh: WhiteoutReader,
  ) {
    this.dirs.set('', lowers.length ? [...lowers] : null);
  }

  /** The layer directories that merge into directory `rel`, or null when it is no directory here. */
  dirLayers(rel: string): string[] | null {
    const known = this.dirs.get(rel);
    if (known !== undefined) return known;
    const slash = rel.lastIndexOf('/');
    const parentRel = slash < 0 ? '' : rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    const parent = this.dirLayers(parentRel);
    let out: string[] | null = null;
    if (parent) {
      const layers: string[] = [];
      for (const dir of parent) {
        const abs = `${dir}/${name}`;
        const st = lstatQuiet(abs);
        if (this.wh.isWhitedOut(dir, name, st)) break;
        if (st === null) continue;
        if (!st.isDirectory()) break; // a non-directory ends the merge (or hides it all)
        layers.push(abs);
        if (this.wh.isOpaque(abs)) break;
      }
      out = layers.length ? layers : null;
    }
    this.dirs.set(rel, out);
    return out;
  }

  /** What the view shows at `name` in directory `rel`: the nearest layer's entry, or null. */
  lookup(rel: string, name: string): Found | null {
    const layers = this.dirLayers(rel);
    if (!layers || this.wh.isMarker(name)) return null;
    for (const dir of layers) {
      const abs = `${dir}/${name}`;
      const st = lstatQuiet(abs);
      if (this.wh.isWhitedOut(dir, name, st)) return null;
      if (st !== null) return { abs, st };
    }
    return null;
  }

  /** The names the view shows in directory `rel`. */
  list(rel: string): string[] {
    const layers = this.dirLayers(rel);
    if (!layers) return [];
    const shown = new Set<string>();
    const hidden = new Set<string>();
    for (const dir of layers) {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const name = e.name;
        if (shown.has(name) || hidden.has(name)) continue;
        if (this.wh.isMarker(name)) {
          if (name !== WH_OPAQUE) hidden.add(name.slice(WH_PREFIX.length));
          continue;
        }
        if (e.isCharacterDevice()) {
          const st = lstatQuiet(`${dir}/${name}`);
          if (st !== null && isWhiteoutDevice(st)) {
            hidden.add(name);
            continue;
          }
        }
        shown.add(name);
      }
    }
    return [...shown];
  }
}
