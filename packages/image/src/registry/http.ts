// One HTTP exchange on node:http/node:https, and the reading of bounded bodies. No retries and
// no auth here (./client.ts owns those): this layer only turns sockets into responses and
// socket failures into typed errors, telling apart what a retry may cure (a dropped or
// refused connection) from what it cannot (an untrusted certificate).
import { type Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { GraphDriverError } from '@graphdriver/core';
import { ImageErrorCode, imageError } from '../errors.js';

export interface Exchange {
  method: string;
  url: URL;
  headers: OutgoingHttpHeaders;
  /** A buffer, or a stream read once (requests with a stream body are never retried here). */
  body?: Buffer | Readable;
  signal?: AbortSignal;
  agent: HttpAgent | HttpsAgent;
  /** Milliseconds without a byte before the connection counts as dropped (default 60 s). */
  idleTimeoutMs?: number;
}

/** A connection-level failure (reset, refused, timed out, cut mid-body): worth a retry. */
export class NetworkError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, cause?: unknown) {
    super(message, { cause });
    this.name = 'NetworkError';
    this.code = code;
  }
}

// Errors that say the peer's certificate is not trusted (as opposed to a dropped connection).
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'INVALID_CA',
]);

// Alerts a server sends when it wants a client certificate it did not get (TLS 1.3 and 1.2).
const CLIENT_CERT_ALERTS = /alert certificate required|alert bad certificate|alert unknown ca|alert handshake failure/i;

const isAbort = (err: unknown) => (err as Error)?.name === 'AbortError';

/** How to trust `host`, for ERR_REGISTRY_TLS messages. */
export const trustHint = (host: string) =>
  `put its CA certificate in --cert-dir DIR/ca.crt or /etc/containers/certs.d/${host}/ca.crt (or use --tls-verify=false)`;

/** Where a client certificate for `host` goes, for ERR_REGISTRY_TLS messages. */
export const clientCertHint = (host: string) =>
  `put client.cert and client.key (signed by a CA the registry accepts) in --cert-dir DIR or /etc/containers/certs.d/${host}/`;

/** Maps a socket/TLS error of a request to `host` to a typed error or a retryable NetworkError. */
export function classifyNetworkError(err: unknown, host: string): Error {
  if (isAbort(err)) return err as Error;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e.code;
  if (code && CERT_CODES.has(code)) {
    return imageError(ImageErrorCode.RegistryTls, `registry ${host}: TLS certificate not trusted (${e.message}); ${trustHint(host)}`, err);
  }
  const alert = CLIENT_CERT_ALERTS.exec(e.message ?? '');
  if (alert) {
    // OpenSSL's own text spans lines and names source files: only the alert is kept
    return imageError(
      ImageErrorCode.RegistryTls,
      `registry ${host}: the server refused the TLS client certificate or wants one (TLS ${alert[0].toLowerCase()}); ${clientCertHint(host)}`,
      err,
    );
  }
  if (code === 'EPROTO' || /wrong version number|SSL routines/i.test(e.message ?? '')) {
    return imageError(
      ImageErrorCode.RegistryTls,
      `registry ${host}: TLS handshake failed (${e.message}); is it plain http? then use --tls-verify=false`,
      err,
    );
  }
  return new NetworkError(`${host}: ${e.message ?? String(err)}`, code, err);
}

/** Sends one request; resolves with the response once its headers arrive. */
export function exchange(x: Exchange): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const host = x.url.host;
    const send = x.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(x.url, { method: x.method, headers: x.headers, agent: x.agent, signal: x.signal });
    req.setTimeout(x.idleTimeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error('no answer (timed out)'), { code: 'ETIMEDOUT' })));
    // a body that fails (a source's own digest check, a read error) is that failure, not a
    // dropped connection to retry
    let bodyError: unknown;
    req.on('error', (err) => reject(bodyError ?? classifyNetworkError(err, host)));
    req.on('response', (res) => {
      // a body cut short later surfaces on the response stream; classify it there too
      resolve(res);
    });
    if (x.body === undefined) req.end();
    else if (Buffer.isBuffer(x.body)) req.end(x.body);
    else {
      x.body.on('error', (err) => {
        bodyError = err;
        req.destroy(err);
      });
      x.body.pipe(req);
    }
  });
}

/** Reads a whole response body, refusing more than `limit` bytes (`what` names it in the error). */
export async function readBounded(
  res: IncomingMessage,
  limit: number,
  what: string,
  code: ImageErrorCode = ImageErrorCode.Registry,
): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  const tooBig = (): GraphDriverError => imageError(code, `${what} is larger than the ${limit}-byte limit`);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw tooBig();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) {
        res.destroy();
        throw tooBig();
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if ((err as GraphDriverError).code === code && total > limit) throw err;
    throw classifyNetworkError(err, (res as { req?: { host?: string } }).req?.host ?? 'registry');
  }
  return Buffer.concat(chunks);
}

/** Discards a response body (bounded: a huge error page is cut off rather than read). */
export async function drain(res: IncomingMessage): Promise<void> {
  await readBounded(res, 1 << 20, 'response').catch(() => res.destroy());
}

/** The `errors` a registry puts in an error body (OCI distribution), as "CODE: message". */
export async function registryErrorText(res: IncomingMessage): Promise<string> {
  try {
    const body = await readBounded(res, 64 << 10, 'error body');
    const parsed = JSON.parse(body.toString()) as { errors?: Array<{ code?: string; message?: string }> };
    const list = (parsed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    return list.join('; ');
  } catch {
    return '';
  }
}
