// Registry credentials in the auth file: containers' auth.json or Docker's config.json, both
// `{"auths": {"KEY": {"auth": base64("user:pass")}}}`. Looked up as podman does, and written
// (by login) atomically with mode 0600, keeping every other key of the file.
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '@graphdriver/core';
import { ImageErrorCode, imageError } from '../errors.js';
import { DOCKER_HUB } from '../reference.js';
import { canonicalRegistry } from './reference.js';

/** A registry user name and password. */
export interface Credentials {
  /** Not empty. */
  username: string;
  /** May hold colons. */
  password: string;
}

/** Which auth file to use; without `authFile`, podman's search path (see {@link authFileCandidates}). */
export interface AuthFileOptions {
  /** An explicit auth file (--authfile): the only one read and written. */
  authFile?: string;
  /** Environment for the default look-up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Home directory for the default look-up (default os.homedir()). */
  home?: string;
}

/** Where Docker writes Docker Hub's entry. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const MAX_AUTH_FILE = 4 << 20;

/** `USER:PASS` as --creds spells it (the password may hold colons; the user may not be empty). */
export function parseCredentials(text: string): Credentials {
  const colon = text.indexOf(':');
  if (colon <= 0) throw imageError(ImageErrorCode.RegistryAuth, 'credentials must be given as USER:PASS');
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The files searched for credentials, in order (podman's order). */
export function authFileCandidates(opts: AuthFileOptions = {}): string[] {
  if (opts.authFile) return [opts.authFile];
  const env = opts.env ?? process.env;
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const home = opts.home ?? homedir();
  return [
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'containers/auth.json')] : []),
    join(home, '.config/containers/auth.json'),
    join(home, '.docker/config.json'),
  ];
}

/** The file login and logout write: the first candidate. */
export function authFileForWrite(opts: AuthFileOptions = {}): string {
  return authFileCandidates(opts)[0];
}

/** The registry (and repository path, if any) an auths key names: scheme and /v1/ dropped. */
function keyTarget(key: string): string {
  let k = key
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '');
  if (k === 'index.docker.io/v1/' || k === 'index.docker.io/v1') k = DOCKER_HUB;
  k = k.replace(/\/v[12]\/?$/, '').replace(/\/+$/, '');
  const slash = k.indexOf('/');
  const host = slash < 0 ? k : k.slice(0, slash);
  return canonicalRegistry(host) + (slash < 0 ? '' : k.slice(slash));
}

interface AuthFileJson {
  auths?: Record<string, { auth?: string }>;
  [key: string]: unknown;
}

async function readAuthFile(path: string): Promise<AuthFileJson | undefined> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_AUTH_FILE)
      throw imageError(ImageErrorCode.RegistryAuth, `auth file ${path} is larger than ${MAX_AUTH_FILE} bytes`);
    text = bytes.toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as AuthFileJson;
  } catch (err) {
    throw imageError(ImageErrorCode.RegistryAuth, `auth file ${path} is not valid JSON (${(err as Error).message})`, err);
  }
}

function decodeAuth(path: string, key: string, auth: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0)
    throw imageError(ImageErrorCode.RegistryAuth, `auth file ${path}: entry ${JSON.stringify(key)} is not base64 of user:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The credentials stored for `registry` (optionally for `repository` on it: a key naming
 * `host/namespace` applies to the repositories under it, the longest match winning), from the
 * first auth file that has an entry. Undefined when none has one.
 */
export async function findCredentials(
  registry: string,
  opts: AuthFileOptions & { repository?: string } = {},
): Promise<Credentials | undefined> {
  const want = canonicalRegistry(registry);
  const full = opts.repository ? `${want}/${opts.repository}` : want;
  for (const path of authFileCandidates(opts)) {
    const file = await readAuthFile(path);
    let best: { key: string; target: string; auth: string } | undefined;
    for (const [key, entry] of Object.entries(file?.auths ?? {})) {
      if (typeof entry?.auth !== 'string' || !entry.auth) continue;
      const target = keyTarget(key);
      if (target !== full && !full.startsWith(`${target}/`)) continue;
      if (!best || target.length > best.target.length) best = { key, target, auth: entry.auth };
    }
    if (best) return decodeAuth(path, best.key, best.auth);
  }
  return undefined;
}

/** Adds (or replaces) the entry for `registry` in the write target; returns that file's path. */
export async function storeCredentials(registry: string, creds: Credentials, opts: AuthFileOptions = {}): Promise<string> {
  const path = authFileForWrite(opts);
  const file = (await readAuthFile(path)) ?? {};
  const auths = { ...(file.auths ?? {}) };
  const target = canonicalRegistry(registry);
  for (const key of Object.keys(auths)) if (keyTarget(key) === target) delete auths[key];
  // Docker's own file gets Docker's key for Docker Hub, so docker itself still finds it
  const key = target === DOCKER_HUB && basename(path) === 'config.json' ? DOCKER_HUB_KEY : target;
  auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify({ ...file, auths }, null, 2)}\n`, 0o600);
  return path;
}

/** Removes every entry for `registry` from the write target; false when there was none. */
export async function removeCredentials(registry: string, opts: AuthFileOptions = {}): Promise<boolean> {
  const path = authFileForWrite(opts);
  const file = await readAuthFile(path);
  if (!file?.auths) return false;
  const auths = { ...file.auths };
  const target = canonicalRegistry(registry);
  const keys = Object.keys(auths).filter((k) => keyTarget(k) === target);
  if (keys.length === 0) return false;
  for (const k of keys) delete auths[k];
  await writeFileAtomic(path, `${JSON.stringify({ ...file, auths }, null, 2)}\n`, 0o600);
  return true;
}
