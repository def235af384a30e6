// Authorization for one registry: Basic, or Bearer tokens from the realm the registry names
// (OCI distribution token flow: GET REALM?service=S&scope=repository:NAME:ACTIONS, with the
// user's Basic credentials when we have them, anonymously otherwise). Tokens are cached per
// set of scopes until shortly before they expire; concurrent requests for the same scopes
// share one token request.
import type { GraphDriverError } from '@graphdriver/core';
import { ImageErrorCode, imageError } from '../errors.js';
import type { Credentials } from './auth-file.js';
import { pickChallenge, type Challenge } from './challenge.js';

export interface TokenResponse {
  status: number;
  body: Buffer;
}

/** Fetches a token URL (no registry auth; retries are the caller's business). */
export type TokenFetcher = (url: URL, authorization: string | undefined, signal?: AbortSignal) => Promise<TokenResponse>;

const scopeKey = (scopes: readonly string[]) => [...new Set(scopes)].sort().join(' ');

export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, { header: string; expires: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    /** The registry as named, for messages. */
    private readonly registry: string,
    private readonly creds: Credentials | undefined,
    private readonly fetchToken: TokenFetcher,
  ) {}

  /** Basic credentials as a header value. */
  private basic(): string | undefined {
    return this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : undefined;
  }

  get scheme(): Challenge['scheme'] | undefined {
    return this.challenge?.scheme;
  }

  /**
   * Takes the WWW-Authenticate of a 401. Returns the scope the registry asked for (Bearer may
   * name one), '' when none, or undefined when the challenge cannot be answered at all.
   */
  learn(header: string | undefined): string | undefined {
    const challenge = pickChallenge(header);
    if (!challenge) return undefined;
    if (challenge.scheme === 'bearer' && !challenge.params.realm) return undefined;
    this.challenge = challenge;
    if (challenge.scheme === 'basic') return this.creds ? '' : undefined;
    return challenge.params.scope ?? '';
  }

  /** Drops the cached token for these scopes (the registry refused it). */
  forget(scopes: readonly string[]): void {
    this.tokens.delete(scopeKey(scopes));
  }

  /** The Authorization header for a request needing `scopes`, or undefined (none known to be needed). */
  async header(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return this.basic();
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.header;
    let p = this.pending.get(key);
    if (!p) {
      p = this.requestToken(c, [...new Set(scopes)], key, signal).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async requestToken(c: Challenge, scopes: string[], key: string, signal?: AbortSignal): Promise<string> {
    let url: URL;
    try {
      url = new URL(c.params.realm);
    } catch {
      throw imageError(
        ImageErrorCode.RegistryAuth,
        `registry ${this.registry}: token realm ${JSON.stringify(c.params.realm)} is not a URL`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw imageError(ImageErrorCode.RegistryAuth, `registry ${this.registry}: token realm ${url.href} is not http(s)`);
    }
    if (c.params.service) url.searchParams.set('service', c.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (this.creds) url.searchParams.set('account', this.creds.username);
    const res = await this.fetchToken(url, this.basic(), signal);
    if (res.status === 401 || res.status === 403) throw this.refusal(scopes);
    if (res.status !== 200) {
      throw imageError(
        ImageErrorCode.Registry,
        `registry ${this.registry}: token server ${url.origin}${url.pathname} answered HTTP ${res.status}`,
      );
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(res.body.toString('utf8')) as typeof parsed;
    } catch {
      throw imageError(ImageErrorCode.Registry, `registry ${this.registry}: token server ${url.origin} answered something other than JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || !token || /[\r\n]/.test(token)) {
      throw imageError(ImageErrorCode.Registry, `registry ${this.registry}: token server ${url.origin} answered no token`);
    }
    // the spec's default lifetime is 60 s; renew 10% (at most 30 s) early
    const lifetime = (typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60) * 1000;
    const header = `Bearer ${token}`;
    this.tokens.set(key, { header, expires: Date.now() + lifetime - Math.min(30_000, lifetime / 10) });
    return header;
  }

  /** ERR_REGISTRY_AUTH for a 401 we cannot answer: says whether credentials were given. */
  refusal(scopes: readonly string[]): GraphDriverError {
    const what = scopes.length ? ` for ${scopes.join(' ')}` : '';
    return imageError(
      ImageErrorCode.RegistryAuth,
      this.creds
        ? `registry ${this.registry} refused the credentials of user ${JSON.stringify(this.creds.username)}${what}`
        : `registry ${this.registry} requires authentication${what} and no credentials were given (use --creds, --authfile or graphdriver login ${this.registry})`,
    );
  }

  /** ERR_REGISTRY_AUTH for a 403. */
  denied(scopes: readonly string[], detail: string): GraphDriverError {
    const who = this.creds ? `user ${JSON.stringify(this.creds.username)}` : 'anonymous access (no credentials were given)';
    return imageError(
      ImageErrorCode.RegistryAuth,
      `registry ${this.registry} denied ${scopes.join(' ') || 'the request'} to ${who}${detail ? `: ${detail}` : ''}`,
    );
  }
}
