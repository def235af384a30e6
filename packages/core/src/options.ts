// Parsing of driver options ("key=value" strings) and human sizes, shared by every driver.
import { errInvalidOption } from './errors.js';

/** One driver option split at its first "=". */
export interface ParsedOption {
  /** The key, trimmed and lower-cased: "btrfs.min_space". */
  key: string;
  /** Everything after the first "=", trimmed; may be empty. */
  value: string;
}

/** Splits "key=value" (the key lower-cased, as Docker does). Throws ERR_INVALID_OPTION when there is no key or no "=". */
export function parseOption(opt: string): ParsedOption {
  const i = opt.indexOf('=');
  if (i <= 0) throw errInvalidOption(`invalid driver option ${JSON.stringify(opt)}: expected key=value`);
  return { key: opt.slice(0, i).trim().toLowerCase(), value: opt.slice(i + 1).trim() };
}

const units: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/**
 * "50M", "1.5g", "1024", "10MiB", "2GB" -> bytes, binary units as Docker's RAMInBytes (so "2GB"
 * is 2 GiB). Throws ERR_INVALID_OPTION for anything else, negative or beyond 2^53.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(text) ?? /^\s*(\d+)\s*(b)\s*$/i.exec(text);
  if (!m) throw errInvalidOption(`invalid size ${JSON.stringify(text)}`);
  const bytes = Math.floor(Number(m[1]) * units[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw errInvalidOption(`invalid size ${JSON.stringify(text)}`);
  return bytes;
}

/**
 * Reads a boolean option value: 1/true/yes/on or 0/false/no/off, any case. Anything else throws
 * ERR_INVALID_OPTION naming `key`.
 */
export function parseBool(key: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw errInvalidOption(`option ${key}: ${JSON.stringify(value)} is not a boolean`);
}

/**
 * Reads driver options against a table of handlers; an unknown key is an error, as in
 * Docker, so that typos do not pass silently.
 */
export function applyOptions(
  driver: string,
  options: readonly string[],
  handlers: Record<string, (value: string, key: string) => void>,
): void {
  for (const raw of options) {
    const { key, value } = parseOption(raw);
    const h = handlers[key];
    if (!h) throw errInvalidOption(`${driver}: unknown option ${key}`);
    h(value, key);
  }
}

/** Storage options of a layer (`size` and driver-specific ones), keys lower-cased. */
export function storageOptions(
  driver: string,
  storageOpt: Record<string, string> | undefined,
  allowed: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(storageOpt ?? {})) {
    const key = k.toLowerCase();
    if (!allowed.includes(key)) throw errInvalidOption(`${driver}: storage option ${k} not supported`);
    out[key] = v;
  }
  return out;
}

/** Docker's units.HumanSize (decimal, 4 significant digits): "50MB", "1.5GB", for Status. */
export function humanSize(bytes: number): string {
  const names = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < names.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${names[i]}`;
}
