// Blob uploads (OCI distribution): POST opens an upload session, then either one PUT
// ?digest= carries all the bytes (monolithic, when the digest is known up front), or one
// streamed PATCH carries them as they come and a final empty PUT ?digest= closes it (streamed:
// when the digest is only known at the end, as for a layer compressed on the way), or PATCHes
// with Content-Range carry them chunk by chunk (chunked: only when asked for; each chunk waits
// for the registry's answer to the one before). Only whole uploads are retried, from a fresh
// `open()`.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { GraphDriverError } from '@graphdriver/core';
import { ImageErrorCode, imageError } from '../errors.js';
import type { RegistryClient } from './client.js';
import { pushScope } from './client.js';
import { drain, NetworkError } from './http.js';
import { isDigest } from '../model/digest.js';
import { backoffMs, sleep, type RetryPolicy } from './retry.js';

/** Options of {@link RegistryClient.uploadBlob}. */
export interface UploadOptions {
  /** The blob's digest, when known (then a monolithic upload is possible). */
  digest?: string;
  /** The blob's size, when known (sent as Content-Length; checked). */
  size?: number;
  /** Upload in PATCH chunks of this many bytes (default: monolithic when the digest is known, else one streamed PATCH). */
  chunkSize?: number;
  /** Cancels the upload: it rejects with an AbortError. */
  signal?: AbortSignal;
}

export const DEFAULT_CHUNK_BYTES = 8 << 20;

type Client = Pick<RegistryClient, 'call' | 'failure' | 'baseUrl' | 'registry'>;

/** A transient failure of one upload attempt: the whole upload is tried again. */
class Transient extends Error {}

export async function uploadBlob(
  client: Client,
  repository: string,
  open: () => Readable,
  opts: UploadOptions & { policy: RetryPolicy },
): Promise<{ digest: string; size: number }> {
  if (opts.digest !== undefined && !isDigest(opts.digest))
    throw imageError(ImageErrorCode.UnsupportedImage, `blob digest ${JSON.stringify(opts.digest)} is not sha256:<64 hex>`);
  const once = opts.chunkSize !== undefined ? chunkedOnce : opts.digest === undefined ? streamedOnce : monolithicOnce;
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(client, repository, open(), opts);
    } catch (err) {
      const transient = err instanceof Transient || err instanceof NetworkError;
      if (!transient) throw err;
      if (attempt >= opts.policy.attempts) {
        throw imageError(
          ImageErrorCode.Registry,
          `upload of a blob to ${client.registry}/${repository} failed ${attempt} times: ${(err as Error).message}`,
          err,
        );
      }
      await sleep(backoffMs(attempt, opts.policy), opts.signal);
    }
  }
}

/** Fails with Transient on 5xx/429 (retried as a whole), a typed error otherwise. */
async function expect(client: Client, res: IncomingMessage, ok: number[], what: string, repository: string): Promise<void> {
  if (ok.includes(res.statusCode ?? 0)) return drain(res);
  if (res.statusCode === 429 || (res.statusCode ?? 0) >= 500) {
    await drain(res);
    throw new Transient(`${what}: HTTP ${res.statusCode}`);
  }
  throw await client.failure(res, what, `repository ${repository}`);
}

/** Opens an upload session (POST); the source is released if that fails. */
async function startUpload(client: Client, repository: string, source: Readable, signal?: AbortSignal): Promise<URL> {
  try {
    const res = await client.call({
      method: 'POST',
      target: `/v2/${repository}/blobs/uploads/`,
      scopes: [pushScope(repository)],
      headers: { 'content-length': 0 },
      signal,
    });
    await expect(client, res, [202], `POST /v2/${repository}/blobs/uploads/`, repository);
    return nextLocation(client, res);
  } catch (err) {
    source.destroy();
    throw err;
  }
}

function nextLocation(client: Client, res: IncomingMessage): URL {
  const location = res.headers.location;
  if (!location) throw imageError(ImageErrorCode.Registry, `${client.registry}: upload answer without a Location`);
  return new URL(location, client.baseUrl);
}

/**
 * Counts the bytes passing through, and hashes them when asked (the registry checks the digest
 * of a monolithic PUT itself; a streamed upload learns its digest here).
 */
function meter(opts: { hash?: boolean } = {}): Transform & { bytes: number; hash?: ReturnType<typeof createHash> } {
  const hash = opts.hash ? createHash('sha256') : undefined;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash?.update(chunk);
      t.bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { bytes: number; hash?: ReturnType<typeof createHash> };
  t.bytes = 0;
  t.hash = hash;
  return t;
}

async function monolithicOnce(
  client: Client,
  repository: string,
  source: Readable,
  opts: UploadOptions,
): Promise<{ digest: string; size: number }> {
  const digest = opts.digest!;
  const location = await startUpload(client, repository, source, opts.signal);
  location.searchParams.set('digest', digest);
  const m = meter();
  source.on('error', (err) => m.destroy(err));
  source.pipe(m);
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
  if (opts.size !== undefined) headers['content-length'] = opts.size;
  const res = await client.call({
    method: 'PUT',
    target: location.href,
    scopes: [pushScope(repository)],
    headers,
    body: () => m,
    retry: false,
    signal: opts.signal,
  });
  await expect(client, res, [201], `PUT blob ${digest}`, repository);
  if (opts.size !== undefined && m.bytes !== opts.size) {
    throw imageError(ImageErrorCode.DigestMismatch, `blob ${digest}: sent ${m.bytes} bytes, expected ${opts.size}`);
  }
  return { digest, size: m.bytes };
}

/** Sends the whole stream in one PATCH (chunked transfer encoding), then closes with PUT ?digest=. */
async function streamedOnce(
  client: Client,
  repository: string,
  source: Readable,
  opts: UploadOptions,
): Promise<{ digest: string; size: number }> {
  const scopes = [pushScope(repository)];
  let location = await startUpload(client, repository, source, opts.signal);
  const m = meter({ hash: true });
  source.on('error', (err) => m.destroy(err));
  source.pipe(m);
  try {
    const res = await client.call({
      method: 'PATCH',
      target: location.href,
      scopes,
      headers: { 'content-type': 'application/octet-stream' },
      body: () => m,
      retry: false,
      signal: opts.signal,
    });
    await expect(client, res, [202], `PATCH blob upload (${m.bytes} bytes)`, repository);
    location = nextLocation(client, res);
    return await closeUpload(client, repository, location, `sha256:${m.hash!.digest('hex')}`, m.bytes, opts);
  } catch (err) {
    source.destroy();
    await cancelUpload(client, repository, location, err, opts.signal);
    throw err;
  }
}

/** Checks what was sent against what was expected, then PUT ?digest= (no body) ends the upload. */
async function closeUpload(
  client: Client,
  repository: string,
  location: URL,
  digest: string,
  size: number,
  opts: UploadOptions,
): Promise<{ digest: string; size: number }> {
  if ((opts.digest !== undefined && digest !== opts.digest) || (opts.size !== undefined && size !== opts.size)) {
    throw imageError(
      ImageErrorCode.DigestMismatch,
      `blob upload to ${repository}: the source gave ${size} bytes with digest ${digest}, expected ${opts.digest ?? '?'} (${opts.size ?? '?'} bytes)`,
    );
  }
  location.searchParams.set('digest', digest);
  const res = await client.call({
    method: 'PUT',
    target: location.href,
    scopes: [pushScope(repository)],
    headers: { 'content-length': 0 },
    retry: false,
    signal: opts.signal,
  });
  await expect(client, res, [201], `PUT blob ${digest}`, repository);
  return { digest, size };
}

/** A refused upload session is left to the registry's purge unless we can say so now. */
async function cancelUpload(client: Client, repository: string, location: URL, err: unknown, signal?: AbortSignal): Promise<void> {
  if (!(err instanceof GraphDriverError)) return;
  const cancel = await client
    .call({ method: 'DELETE', target: location.href, scopes: [pushScope(repository)], signal })
    .catch(() => undefined);
  if (cancel) await drain(cancel);
}

/** Regroups a stream into buffers of exactly `size` bytes (the last one shorter). */
async function* rechunk(source: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    let c = chunk;
    while (held + c.length >= size) {
      const take = size - held;
      parts.push(c.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      held = 0;
      c = c.subarray(take);
    }
    if (c.length) {
      parts.push(c);
      held += c.length;
    }
  }
  if (held) yield Buffer.concat(parts);
}

async function chunkedOnce(
  client: Client,
  repository: string,
  source: Readable,
  opts: UploadOptions,
): Promise<{ digest: string; size: number }> {
  const scopes = [pushScope(repository)];
  let location = await startUpload(client, repository, source, opts.signal);
  const hash = createHash('sha256');
  let offset = 0;
  try {
    for await (const chunk of rechunk(source, opts.chunkSize ?? DEFAULT_CHUNK_BYTES)) {
      hash.update(chunk);
      const res = await client.call({
        method: 'PATCH',
        target: location.href,
        scopes,
        retry: false,
        signal: opts.signal,
        body: () => chunk,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
          'content-length': chunk.length,
        },
      });
      await expect(client, res, [202], `PATCH blob upload at byte ${offset}`, repository);
      location = nextLocation(client, res);
      offset += chunk.length;
    }
    return await closeUpload(client, repository, location, `sha256:${hash.digest('hex')}`, offset, opts);
  } catch (err) {
    source.destroy();
    await cancelUpload(client, repository, location, err, opts.signal);
    throw err;
  }
}
