// Choosing the image of an index (OCI index / Docker manifest list) for a platform.
import { ImageErrorCode, imageError } from '../errors.js';
import type { Descriptor, Platform } from '../transports/types.js';

const fmt = (p: Partial<Platform> | undefined) => (p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '?');

// arm64's one variant, named or not
const normalVariant = (p: Platform) => (p.architecture === 'arm64' && p.variant === 'v8' ? undefined : p.variant);

/**
 * The entry of `manifests` for `want`: same os and architecture; a variant asked for must
 * match (an entry without one is taken when nothing matches exactly). Nothing for the platform
 * is ERR_IMAGE_NOT_FOUND, listing what the index has.
 */
export function selectPlatform(manifests: Descriptor[], want: Platform, subject: string): Descriptor {
  const candidates = manifests.filter((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
  const variant = normalVariant(want);
  const exact = candidates.find((m) => normalVariant(m.platform!) === variant);
  const loose = variant === undefined ? candidates[0] : candidates.find((m) => m.platform!.variant === undefined);
  const found = exact ?? loose;
  if (!found) {
    const has = manifests.map((m) => fmt(m.platform)).join(', ') || 'nothing';
    throw imageError(ImageErrorCode.ImageNotFound, `${subject} has no image for ${fmt(want)} (it has ${has})`);
  }
  return found;
}
