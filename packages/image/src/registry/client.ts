// An OCI distribution v1.1 client for one registry, on node:http/node:https: ping, auth
// (./auth.ts), retries (./retry.ts), manifests, blobs (./blob-download.ts, ./blob-upload.ts),
// cross-repository mounts. Every request takes an AbortSignal; every buffered body is bounded;
// every manifest is checked against its digest.
import { Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { GraphDriverError } from '@graphdriver/core';
import { ImageErrorCode, imageError } from '../errors.js';
import type { ManifestBytes } from '../transports/types.js';
import { Authenticator } from './auth.js';
import { findCredentials, type AuthFileOptions, type Credentials } from './auth-file.js';
import { downloadBlob } from './blob-download.js';
import { uploadBlob, type UploadOptions } from './blob-upload.js';
import { drain, exchange, NetworkError, readBounded, registryErrorText } from './http.js';
import { isDigest, sha256 } from '../model/digest.js';
import { ACCEPTED_MANIFEST_TYPES, MediaType } from '../model/media-types.js';
import { manifestKind, MAX_MANIFEST_BYTES, parseJsonBlob } from '../model/parse.js';
import { apiHost, canonicalRegistry } from './reference.js';
import { backoffMs, DEFAULT_RETRY, retryAfterMs, sleep, type RetryPolicy } from './retry.js';
import { loadTlsSettings, type TlsOptions } from './tls.js';

const MAX_TOKEN_BYTES = 1 << 20;
const MAX_REDIRECTS = 5;

/** How a {@link RegistryClient} connects, authenticates and retries. */
export interface RegistryClientOptions extends TlsOptions, AuthFileOptions {
  /** Credentials to use (--creds); otherwise the auth file's entry for the registry, if any. */
  creds?: Credentials;
  /** How requests are retried (defaults: 5 tries, 250 ms doubling, 30 s at most). */
  retry?: Partial<RetryPolicy>;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestBytes?: number;
  /** Parallel connections to the registry (default 8). */
  maxSockets?: number;
  /** The User-Agent header sent (default `graphdriver`). */
  userAgent?: string;
}

/** One request as the client's callers describe it. */
export interface RegistryCall {
  /** The HTTP method. */
  method: string;
  /** A path under the registry's origin (`/v2/…`), or an absolute URL (upload Locations). */
  target: string;
  /** Token scopes the request needs, e.g. `repository:app:pull`. */
  scopes: string[];
  /** Extra request headers (Authorization is added by the client). */
  headers?: OutgoingHttpHeaders;
  /** Made afresh for every try, so a retried request sends its body again. */
  body?: () => Buffer | Readable;
  /**
   * false: no retries here, the caller retries as a whole (a streamed body cannot be sent
   * twice): a dropped connection rejects with NetworkError, 5xx/429 resolve. Default true.
   */
  retry?: boolean;
  /** Follow 3xx (blobs: a registry may send them to a CDN). Default false. */
  redirects?: boolean;
  /** Cancels the request (and its retries): it rejects with an AbortError. */
  signal?: AbortSignal;
}

export const pullScope = (repository: string) => `repository:${repository}:pull`;
export const pushScope = (repository: string) => `repository:${repository}:pull,push`;

const contentType = (res: IncomingMessage) => (res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();

/**
 * An OCI distribution (v2 API) client for one registry on node's own http/https: auth
 * (Basic, or Bearer tokens per scope), TLS trust from certs.d, retries with backoff on 5xx,
 * 429 and dropped connections (then ERR_REGISTRY), and size and digest checks on what it
 * reads. Errors: ERR_REGISTRY_AUTH, ERR_REGISTRY_TLS, ERR_IMAGE_NOT_FOUND,
 * ERR_DIGEST_MISMATCH, ERR_UNSUPPORTED_IMAGE, ERR_REGISTRY. It keeps connections open:
 * {@link RegistryClient.close} it when done.
 */
export class RegistryClient {
  /** The registry as named (`docker.io`, `127.0.0.1:5000`): messages, credentials, certs.d. */
  readonly registry: string;
  /** The host its API answers on (`registry-1.docker.io` for docker.io). */
  readonly host: string;
  private readonly opts: RegistryClientOptions;
  private readonly policy: RetryPolicy;
  private setup: Promise<void> | undefined;
  private origin = '';
  private agent!: HttpAgent | HttpsAgent;
  private foreign!: { http: HttpAgent; https: HttpsAgent };
  private auth!: Authenticator;

  constructor(registry: string, opts: RegistryClientOptions = {}) {
    this.registry = canonicalRegistry(registry);
    this.host = apiHost(registry);
    this.opts = opts;
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /** Checks the registry answers the v2 API (and learns its auth challenge). */
  async ping(signal?: AbortSignal): Promise<void> {
    this.setup ??= this.connect(signal);
    try {
      await this.setup;
    } catch (err) {
      this.setup = undefined;
      throw err;
    }
  }

  /** Closes idle connections. */
  close(): void {
    this.agent?.destroy();
    this.foreign?.http.destroy();
    this.foreign?.https.destroy();
  }

  /** Whether the credentials in use are accepted (login): a Bearer registry must issue a token for them. */
  async checkCredentials(signal?: AbortSignal): Promise<void> {
    await this.ping(signal);
    const res = await this.call({ method: 'GET', target: '/v2/', scopes: [], signal });
    await drain(res);
    if (res.statusCode !== 200) throw this.unexpected(res, 'GET /v2/', '');
  }

  private async connect(signal?: AbortSignal): Promise<void> {
    const tls = await loadTlsSettings(this.registry, this.opts);
    const creds = this.opts.creds ?? (await findCredentials(this.registry, this.opts));
    const sockets = { keepAlive: true, maxSockets: this.opts.maxSockets ?? 8 };
    const https = new HttpsAgent({ ...sockets, rejectUnauthorized: tls.verify, ca: tls.ca, cert: tls.cert, key: tls.key });
    this.foreign = { http: new HttpAgent(sockets), https: new HttpsAgent({ ...sockets, rejectUnauthorized: tls.verify, ca: tls.ca }) };
    this.auth = new Authenticator(this.registry, creds, (url, authorization, s) => this.fetchToken(url, authorization, s));
    this.agent = https;
    this.origin = `https://${this.host}`;
    try {
      await this.pingOnce(signal);
    } catch (err) {
      // --tls-verify=false also allows plain http: fall back when the port does not speak TLS
      const code = (err as GraphDriverError).code;
      const dropped = err instanceof NetworkError || code === ImageErrorCode.Registry;
      if (tls.verify || (code !== ImageErrorCode.RegistryTls && !dropped)) throw err;
      https.destroy();
      this.agent = new HttpAgent(sockets);
      this.origin = `http://${this.host}`;
      await this.pingOnce(signal);
    }
  }

  private async pingOnce(signal?: AbortSignal): Promise<void> {
    const res = await this.call({ method: 'GET', target: '/v2/', scopes: [], signal, ping: true });
    await drain(res);
    if (res.statusCode === 200) return;
    if (res.statusCode === 401) {
      this.auth.learn(res.headers['www-authenticate'] as string | undefined);
      return;
    }
    throw imageError(
      ImageErrorCode.Registry,
      `${this.registry} does not answer the registry API: GET ${this.origin}/v2/ gave HTTP ${res.statusCode}`,
    );
  }

  private async fetchToken(url: URL, authorization: string | undefined, signal?: AbortSignal) {
    const { res, bytes } = await this.fetchSmall(
      { method: 'GET', target: url.href, scopes: [], headers: authorization ? { authorization } : {}, signal, noAuth: true },
      async () => {},
      MAX_TOKEN_BYTES,
      `token from ${url.origin}`,
      ImageErrorCode.Registry,
    );
    return { status: res.statusCode ?? 0, body: bytes };
  }

  /**
   * A small body read whole (a manifest, a token), bounded by `limit`; a connection dropped
   * while reading it is retried like one dropped before the headers. `check` judges the status.
   */
  private async fetchSmall(
    c: RegistryCall & { noAuth?: boolean },
    check: (res: IncomingMessage) => Promise<void>,
    limit: number,
    what: string,
    code: ImageErrorCode,
  ): Promise<{ res: IncomingMessage; bytes: Buffer }> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.call(c);
      await check(res);
      try {
        return { res, bytes: await readBounded(res, limit, what, code) };
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        if (attempt >= this.policy.attempts)
          throw imageError(ImageErrorCode.Registry, `${what}: ${err.message} (after ${attempt} tries)`, err);
        await sleep(backoffMs(attempt, this.policy), c.signal);
      }
    }
  }

  /**
   * Sends a request with auth, retries (5xx, 429 with Retry-After, dropped connections) and,
   * if asked, redirects (Authorization is only ever sent to the registry's own origin).
   * Resolves with any response the caller must judge (2xx, 404, …); 401/403 and spent retries
   * are thrown as typed errors.
   */
  async call(c: RegistryCall & { ping?: boolean; noAuth?: boolean }): Promise<IncomingMessage> {
    if (!c.ping && !c.noAuth) await this.ping(c.signal);
    let url = /^https?:\/\//.test(c.target) ? new URL(c.target) : new URL(this.origin + c.target);
    const firstOrigin = url.origin;
    let scopes = c.scopes;
    let attempt = 0;
    let authRounds = 0;
    let redirects = 0;
    for (;;) {
      c.signal?.throwIfAborted();
      const own = url.origin === this.origin;
      const authorization = own && !c.noAuth && !c.ping ? await this.auth.header(scopes, c.signal) : undefined;
      const headers: OutgoingHttpHeaders = { 'user-agent': this.opts.userAgent ?? 'graphdriver', ...c.headers };
      if (authorization) headers.authorization = authorization;
      // a redirect elsewhere (a CDN) gets none of the registry's credentials
      else if (redirects > 0 && url.origin !== firstOrigin) delete headers.authorization;
      let res: IncomingMessage;
      try {
        res = await exchange({ method: c.method, url, headers, body: c.body?.(), signal: c.signal, agent: this.agentFor(url, own) });
      } catch (err) {
        if (!(err instanceof NetworkError) || c.retry === false) throw err;
        attempt++;
        if (attempt >= this.policy.attempts) {
          throw imageError(
            ImageErrorCode.Registry,
            `${c.method} ${url.origin}${url.pathname}: ${err.message} (after ${attempt} ${attempt === 1 ? 'try' : 'tries'})`,
            err,
          );
        }
        await sleep(backoffMs(attempt, this.policy), c.signal);
        continue;
      }
      const status = res.statusCode ?? 0;
      if (status === 401 && own && !c.ping && !c.noAuth) {
        await drain(res);
        const asked = this.auth.learn(res.headers['www-authenticate'] as string | undefined);
        // a refused Basic password is final; a Bearer token is fetched afresh once
        if (asked === undefined || authRounds++ >= 1 || (authorization?.startsWith('Basic ') ?? false)) throw this.auth.refusal(scopes);
        if (authorization) this.auth.forget(scopes);
        if (asked && !scopes.includes(asked)) scopes = [...scopes, asked];
        continue;
      }
      if (status === 403 && own && !c.noAuth) throw this.auth.denied(scopes, await registryErrorText(res));
      if ((status === 429 || (status >= 500 && status <= 599)) && c.retry !== false) {
        attempt++;
        if (attempt >= this.policy.attempts) {
          const text = await registryErrorText(res);
          throw imageError(
            ImageErrorCode.Registry,
            `${c.method} ${url.origin}${url.pathname}: HTTP ${status}${text ? ` (${text})` : ''} after ${attempt} ${attempt === 1 ? 'try' : 'tries'}`,
          );
        }
        const wait = retryAfterMs(res.headers['retry-after'], this.policy) ?? backoffMs(attempt, this.policy);
        await drain(res);
        await sleep(wait, c.signal);
        continue;
      }
      if (c.redirects && status >= 300 && status < 400 && res.headers.location) {
        await drain(res);
        if (++redirects > MAX_REDIRECTS)
          throw imageError(ImageErrorCode.Registry, `${c.method} ${url.href}: more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(res.headers.location, url);
        if (next.protocol !== 'https:' && next.protocol !== 'http:')
          throw imageError(ImageErrorCode.Registry, `${url.href} redirected to ${next.protocol} URL`);
        url = next;
        continue;
      }
      return res;
    }
  }

  private agentFor(url: URL, own: boolean): HttpAgent | HttpsAgent {
    if (own) return this.agent;
    return url.protocol === 'https:' ? this.foreign.https : this.foreign.http;
  }

  /** A typed error for a response the caller did not expect (404 -> ERR_IMAGE_NOT_FOUND). */
  async failure(res: IncomingMessage, what: string, subject: string): Promise<GraphDriverError> {
    const text = await registryErrorText(res);
    return this.unexpected(res, what, subject, text);
  }

  private unexpected(res: IncomingMessage, what: string, subject: string, text = ''): GraphDriverError {
    const detail = text ? ` (${text})` : '';
    if (res.statusCode === 404) return imageError(ImageErrorCode.ImageNotFound, `${subject} not found in ${this.registry}${detail}`);
    if (/DIGEST_INVALID/.test(text))
      return imageError(ImageErrorCode.DigestMismatch, `${what}: ${this.registry} says the digest does not match the bytes${detail}`);
    if (/\b(?:NAME_UNKNOWN|MANIFEST_UNKNOWN|BLOB_UNKNOWN)\b/.test(text))
      return imageError(ImageErrorCode.ImageNotFound, `${subject} not found in ${this.registry}${detail}`);
    return imageError(ImageErrorCode.Registry, `${what} on ${this.registry}: unexpected HTTP ${res.statusCode}${detail}`);
  }

  /**
   * A manifest (or index) by tag or digest, bounded in size and checked against its digest:
   * the one asked for, else the one the registry claims (Docker-Content-Digest). Schema 1 and
   * unknown media types are ERR_UNSUPPORTED_IMAGE.
   */
  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestBytes> {
    const subject = `manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    const limit = this.opts.maxManifestBytes ?? MAX_MANIFEST_BYTES;
    const { res, bytes } = await this.fetchSmall(
      {
        method: 'GET',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [pullScope(repository)],
        headers: { accept: ACCEPTED_MANIFEST_TYPES.join(', ') },
        signal,
      },
      async (r) => {
        if (r.statusCode !== 200) throw await this.failure(r, `GET ${subject}`, subject);
      },
      limit,
      `${subject} on ${this.registry}`,
      ImageErrorCode.InvalidImage,
    );
    const digest = sha256(bytes);
    const claimed = res.headers['docker-content-digest'];
    const expected = isDigest(reference) ? reference : isDigest(claimed) ? claimed : undefined;
    if (expected && expected !== digest) {
      throw imageError(ImageErrorCode.DigestMismatch, `${subject} from ${this.registry}: expected ${expected}, the bytes are ${digest}`);
    }
    // schema 1 and unknown media types are refused here
    const what = `${subject} on ${this.registry}`;
    const header = contentType(res) || undefined;
    const doc = parseJsonBlob(bytes, what, { max: limit });
    const kind = manifestKind(doc, header, what);
    const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
    const mediaType = own ?? (header && header !== 'application/json' ? header : kind === 'index' ? MediaType.Index : MediaType.Manifest);
    return { bytes, mediaType, digest };
  }

  /** Stores a manifest under a tag or its digest; returns its digest. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const digest = sha256(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw imageError(ImageErrorCode.DigestMismatch, `manifest for ${repository}@${reference}: the bytes are ${digest}`);
    }
    const subject = `manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    const res = await this.call({
      method: 'PUT',
      target: `/v2/${repository}/manifests/${reference}`,
      scopes: [pushScope(repository)],
      headers: { 'content-type': mediaType, 'content-length': bytes.length },
      body: () => bytes,
      signal,
    });
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await this.failure(res, `PUT ${subject}`, `repository ${repository}`);
    await drain(res);
    const claimed = res.headers['docker-content-digest'];
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw imageError(ImageErrorCode.DigestMismatch, `PUT ${subject}: ${this.registry} stored ${claimed}, we sent ${digest}`);
    }
    return digest;
  }

  /** The blob's size when the repository has it (HEAD), else undefined. */
  async blobSize(repository: string, digest: string, signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.call({
      method: 'HEAD',
      target: `/v2/${repository}/blobs/${digest}`,
      scopes: [pullScope(repository)],
      redirects: true,
      signal,
    });
    res.resume();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw this.unexpected(res, `HEAD blob ${digest}`, `blob ${repository}@${digest}`);
    const size = Number(res.headers['content-length']);
    return Number.isSafeInteger(size) ? size : -1;
  }

  /**
   * A blob's bytes from `offset`, resumed with Range when the connection drops. With `size`,
   * more bytes than that are refused; with `verify` (only from offset 0) the digest is checked
   * at the end and a mismatch fails the stream with ERR_DIGEST_MISMATCH.
   */
  getBlob(
    repository: string,
    digest: string,
    opts: { offset?: number; size?: number; verify?: boolean; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    return downloadBlob(this, repository, digest, { ...opts, policy: this.policy });
  }

  /**
   * Mounts a blob from another repository of this registry (POST …?mount=&from=). True when
   * the registry mounted it (201); false when it would not (it then opened an upload, which
   * is cancelled).
   */
  async mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean> {
    const q = new URLSearchParams({ mount: digest, from });
    let res: IncomingMessage;
    try {
      res = await this.call({
        method: 'POST',
        target: `/v2/${repository}/blobs/uploads/?${q}`,
        scopes: [pushScope(repository), pullScope(from)],
        headers: { 'content-length': 0 },
        signal,
      });
    } catch (err) {
      // no pull access to `from` only means no mount: the blob is then checked or sent as usual
      if ((err as GraphDriverError).code === ImageErrorCode.RegistryAuth) return false;
      throw err;
    }
    await drain(res);
    if (res.statusCode === 201) return true;
    if (res.statusCode === 202) {
      const location = res.headers.location;
      if (location) {
        const cancel = await this.call({
          method: 'DELETE',
          target: new URL(location, this.origin).href,
          scopes: [pushScope(repository)],
          signal,
        }).catch(() => undefined);
        if (cancel) await drain(cancel);
      }
      return false;
    }
    throw this.unexpected(res, `mount ${digest} from ${from}`, `repository ${repository}`);
  }

  /**
   * Uploads a blob: monolithic (POST, then PUT ?digest= with the bytes) when the digest is
   * known and no chunk size is asked for; streamed (one PATCH carrying every byte, then PUT
   * ?digest=) when the digest is not known; chunked (PATCH with Content-Range per chunk, then
   * PUT ?digest=) when a chunk size is given. `open` is called again to retry from the start.
   */
  uploadBlob(
    repository: string,
    open: () => Readable,
    opts: UploadOptions = {},
  ): Promise<{
    /** The uploaded blob's digest (computed when `opts.digest` was not given). */
    digest: string;
    /** Its size in bytes. */
    size: number;
  }> {
    return uploadBlob(this, repository, open, { ...opts, policy: this.policy });
  }

  /** The registry's origin URL (after ping: https, or http when allowed and needed). */
  get baseUrl(): string {
    return this.origin;
  }
}
