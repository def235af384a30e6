// Platforms: `OS/ARCH[/VARIANT]` as users write them, this host's, and choosing the entry of an
// index (a multi-platform image) that matches one.
import { ImageErrorCode, imageError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

const NODE_ARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64le',
};

/** This machine's platform in OCI's words (Node's "x64" is OCI's "amd64"). */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture, ...(v ? { variant: `v${v}` } : {}) };
  }
  return { os: 'linux', architecture };
}

const PART_RE = /^[a-z0-9_.-]{1,32}$/;

/** Parses `OS/ARCH[/VARIANT]` (e.g. `linux/arm64/v8`). */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PART_RE.test(p))) {
    throw imageError(
      ImageErrorCode.InvalidReference,
      `invalid platform ${JSON.stringify(text)} (expected OS/ARCH[/VARIANT], e.g. linux/amd64)`,
    );
  }
  const [os, architecture, variant] = parts;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** `os/architecture[/variant]`, as {@link parsePlatform} reads it (`linux/arm64/v8`). */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** arm64's only variant is v8, and images often leave it out: the two are the same. */
function normalVariant(p: Platform): string | undefined {
  if (p.architecture === 'arm64' && (p.variant === undefined || p.variant === 'v8')) return undefined;
  return p.variant;
}

/**
 * The index entry for `want`: os and architecture must match; a variant asked for must
 * match too, and without one asked for, an entry without a variant is preferred (as
 * containerd's matcher does).
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  const candidates = manifests.filter((d) => d.platform?.os === want.os && d.platform.architecture === want.architecture);
  const wantVariant = normalVariant(want);
  if (wantVariant !== undefined) {
    return candidates.find((d) => d.platform && normalVariant(d.platform) === wantVariant);
  }
  return candidates.find((d) => d.platform && normalVariant(d.platform) === undefined) ?? candidates[0];
}
