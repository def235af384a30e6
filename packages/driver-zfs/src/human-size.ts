// Sizes as the zfs CLI prints them. With `-p` they are exact byte counts; without it (zfs-fuse
// has no `zfs list -p`) they are zfs_nicenum's human form: "512", "1.50K", "218M", "16.0E",
// powers of 1024. Both forms go through here, so either flag setting reads the same.

const SHIFT: Record<string, number> = { '': 0, K: 10, M: 20, G: 30, T: 40, P: 50, E: 60, Z: 70 };

/**
 * Bytes of a zfs size value; null for "none" (no quota) and "-" (not applicable). Human values
 * are rounded by zfs itself (three significant digits), so they are approximations.
 */
export function parseZfsSize(text: string): number | null {
  const t = text.trim();
  if (t === 'none' || t === '-' || t === '') return null;
  const m = /^(\d+(?:\.\d+)?)([KMGTPEZ]?)(?:i?B)?$/i.exec(t);
  if (!m) throw new Error(`unreadable zfs size ${JSON.stringify(text)}`);
  const n = Number(m[1]) * 2 ** SHIFT[m[2].toUpperCase()];
  return Math.round(n);
}

/** Like parseZfsSize, but "none"/"-" read as 0 (what Docker reports for "no quota"). */
export function zfsSizeOrZero(text: string): number {
  return parseZfsSize(text) ?? 0;
}
