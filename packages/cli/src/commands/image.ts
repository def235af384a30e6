// Images in and out of the store: import/export over every transport (oci:, oci-archive:,
// docker-archive:, docker://), pull/push (the same with docker://), and login/logout. All
// of the work is @graphdriver/image's; this file turns options into its calls and its
// results into output.
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { GraphDriverError } from '@graphdriver/core';
import {
  exportTo,
  importFrom,
  login,
  logout,
  parseDockerReference,
  parseImageReference,
  parsePlatform,
  type ExportResult,
  type ImageProgressEvent,
  type ImageReference,
  type ImportResult,
  type RegistryOptions,
} from '@graphdriver/image';
import { CliErrorCode } from '../cli-errors.js';
import type { Output } from '../output.js';
import type { Progress } from '../progress.js';
import { withDriver, type GlobalOptions } from '../session.js';

/** Options of pull, push, import and export as commander hands them over. */
export interface TransferFlags {
  creds?: string;
  authfile?: string;
  certDir?: string;
  tlsVerify?: string | boolean;
  platform?: string;
  jobs?: string;
  compression?: string;
}

/** Adds the flags every transfer command takes (and --compression to push and export). */
export function transferOptions(cmd: Command, opts: { compression?: boolean } = {}): Command {
  cmd
    .option('--creds <user:pass>', 'registry credentials')
    .option('--authfile <file>', 'auth file (containers auth.json / Docker config.json)')
    .option('--cert-dir <dir>', 'directory with ca.crt, client.cert and client.key for the registry')
    .addOption(new Option('--tls-verify [bool]', 'verify TLS; --tls-verify=false allows http and unverified TLS'))
    .option(
      '--platform <os/arch[/variant]>',
      opts.compression
        ? "platform the written image's config declares (default: this host)"
        : 'platform to pick from a multi-platform image (default: this host)',
    )
    .option('--jobs <n>', 'parallel blob transfers (default 3)');
  if (opts.compression)
    cmd.addOption(new Option('--compression <kind>', 'compression of layers that must be compressed').choices(['gzip', 'zstd']));
  return cmd;
}

const usage = (message: string) => new GraphDriverError(CliErrorCode.Usage, message);

function registryOptions(f: TransferFlags): RegistryOptions {
  let tlsVerify: boolean | undefined;
  if (f.tlsVerify !== undefined) {
    if (f.tlsVerify === true || f.tlsVerify === 'true') tlsVerify = true;
    else if (f.tlsVerify === 'false') tlsVerify = false;
    else throw usage(`--tls-verify takes true or false, not ${JSON.stringify(f.tlsVerify)}`);
  }
  if (f.creds !== undefined && !/^[^:]+:/.test(f.creds)) throw usage('--creds takes USER:PASS');
  return {
    ...(f.creds !== undefined ? { creds: f.creds } : {}),
    ...(f.authfile !== undefined ? { authFile: f.authfile } : {}),
    ...(f.certDir !== undefined ? { certDir: f.certDir } : {}),
    ...(tlsVerify !== undefined ? { tlsVerify } : {}),
  };
}

function jobsOf(f: TransferFlags): number | undefined {
  if (f.jobs === undefined) return undefined;
  if (!/^[1-9]\d{0,2}$/.test(f.jobs)) throw usage(`--jobs takes a number from 1 to 999, not ${JSON.stringify(f.jobs)}`);
  return Number(f.jobs);
}

/** Feeds the image operations' events into the CLI's progress line. */
function progressOf(out: Output): { listener: (e: ImageProgressEvent) => void; done: () => void } {
  let progress: Progress | undefined;
  return {
    listener(e) {
      if (e.type === 'plan') progress ??= out.progress(e.bytes || undefined);
      else if (e.type === 'layer') progress?.part(`layer ${e.index + 1}/${e.count}`);
      else if (e.type === 'bytes') progress?.addBytes(e.bytes);
      else if (e.type === 'entries') progress?.entries(e.entries);
    },
    done: () => progress?.done(),
  };
}

/** The image state of a store: blob cache and per-layer pull records. */
const stateDir = (root: string) => join(root, 'image');

async function runImport(g: GlobalOptions, out: Output, ref: ImageReference, shown: string, f: TransferFlags) {
  const opts = { ...registryOptions(f), jobs: jobsOf(f), ...(f.platform ? { platform: parsePlatform(f.platform) } : {}) };
  await withDriver(g, async (driver, s) => {
    const p = progressOf(out);
    const result: ImportResult = await importFrom(driver, ref, {
      ...opts,
      stateDir: stateDir(s.root),
      onProgress: p.listener,
      signal: g.signal,
    }).finally(p.done);
    const added = result.layers.filter((l) => !l.skipped).length;
    const text = [
      ...result.layers.map((l) => `${l.skipped ? 'present' : 'applied'} ${l.id}  (${l.digest})`),
      `imported ${shown} (${result.manifest}): ${result.layers.length} layer${result.layers.length === 1 ? '' : 's'}, ${added} new; top layer ${result.top ?? '-'}`,
    ];
    out.result({ image: shown, driver: driver.name, ...result }, text, result.top ?? '');
  });
}

async function runExport(g: GlobalOptions, out: Output, id: string, ref: ImageReference, shown: string, f: TransferFlags) {
  const opts = {
    ...registryOptions(f),
    jobs: jobsOf(f),
    ...(f.compression ? { compression: f.compression as 'gzip' | 'zstd' } : {}),
    // what the pushed image's config declares (default this host)
    ...(f.platform ? { platform: parsePlatform(f.platform) } : {}),
  };
  await withDriver(g, async (driver, s) => {
    const p = progressOf(out);
    const result: ExportResult = await exportTo(driver, id, ref, {
      ...opts,
      stateDir: stateDir(s.root),
      onProgress: p.listener,
      signal: g.signal,
    }).finally(p.done);
    const text = [
      ...result.layers.map((l) => `${l.skipped ? 'exists' : 'layer '} ${l.id}  ${l.digest}  ${l.size} bytes`),
      `exported ${id} to ${shown}: manifest ${result.manifest}`,
    ];
    out.result({ image: shown, id, ...result }, text, result.manifest);
  });
}

export const importCommand = (g: GlobalOptions, out: Output, refText: string, f: TransferFlags) =>
  runImport(g, out, parseImageReference(refText), refText, f);

export const exportCommand = (g: GlobalOptions, out: Output, id: string, refText: string, f: TransferFlags) =>
  runExport(g, out, id, parseImageReference(refText), refText, f);

export const pullCommand = (g: GlobalOptions, out: Output, refText: string, f: TransferFlags) =>
  runImport(g, out, { transport: 'docker', ref: parseDockerReference(refText) }, refText, f);

export const pushCommand = (g: GlobalOptions, out: Output, id: string, refText: string, f: TransferFlags) =>
  runExport(g, out, id, { transport: 'docker', ref: parseDockerReference(refText) }, refText, f);

export interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  authfile?: string;
  certDir?: string;
  tlsVerify?: string | boolean;
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin) {
    parts.push(chunk as Buffer);
    if ((n += (chunk as Buffer).length) > 64 << 10) throw usage('--password-stdin: more than 64 KiB on stdin');
  }
  return Buffer.concat(parts)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `login HOST`: checks the credentials against the registry, then stores them in the auth file. */
export async function loginCommand(_g: GlobalOptions, out: Output, host: string, f: LoginFlags) {
  if (f.password !== undefined && f.passwordStdin) throw usage('give the password with -p or --password-stdin, not both');
  if (!f.username) throw usage('login needs -u USER (non-interactive)');
  const password = f.passwordStdin ? await readStdin() : f.password;
  if (password === undefined || password === '') throw usage('login needs a password: -p PASS or --password-stdin');
  const { tlsVerify } = registryOptions({ tlsVerify: f.tlsVerify });
  const { authFile } = await login(
    host,
    { username: f.username, password },
    {
      ...(f.authfile !== undefined ? { authFile: f.authfile } : {}),
      ...(f.certDir !== undefined ? { certDir: f.certDir } : {}),
      ...(tlsVerify !== undefined ? { tlsVerify } : {}),
    },
  );
  out.result({ registry: host, authFile }, `Login Succeeded (${host}, credentials in ${authFile})`, authFile);
}

/** `logout HOST`: removes the registry's entry from the auth file. */
export async function logoutCommand(_g: GlobalOptions, out: Output, host: string, f: { authfile?: string }) {
  const { authFile, removed } = await logout(host, f.authfile !== undefined ? { authFile: f.authfile } : {});
  out.result(
    { registry: host, authFile, removed },
    removed ? `Removed login credentials for ${host} from ${authFile}` : `Not logged in to ${host}`,
    authFile,
  );
}
