// A token server as Docker Hub's auth service behaves, for distribution's `auth: token:`:
// GET REALM?service=S&scope=repository:NAME:ACTIONS (scope repeated), optional Basic
// credentials; answers a JWT signed ES256 with the key whose certificate is in the registry's
// rootcertbundle (sent as the x5c chain). Known users get every action they ask for; anonymous
// callers get `pull` on public repositories only; a wrong password is a 401. Each request is
// recorded, so tests can count token round trips per scope.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TokenSigner } from './certs.js';

/** One token request the test token server answered, as logged in {@link TokenServer.requests}. */
export interface TokenRequest {
  /** The scopes asked for, in order. */
  scopes: string[];
  /** The `service` parameter, or null when absent. */
  service: string | null;
  /** The user that authenticated, or null for an anonymous request. */
  user: string | null;
  /** The HTTP status answered (200; 401 for refused credentials, 400 for another service). */
  status: number;
}

/** A bearer-token server for a test registry's token auth. */
export interface TokenServer {
  /** The realm URL to configure in the registry, e.g. `http://127.0.0.1:PORT/token`. */
  realm: string;
  /** Every request answered so far, oldest first. */
  readonly requests: TokenRequest[];
  /** Closes the server. */
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  signer: TokenSigner;
  service: string;
  issuer: string;
  users: Record<string, string>;
  /** Repositories under these prefixes may be pulled anonymously. */
  publicPrefixes?: string[];
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function parseScope(scope: string): { type: string; name: string; actions: string[] } | null {
  // repository:NAME:ACTIONS where NAME may itself hold a port-less path but no colon
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return null;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const requests: TokenRequest[] = [];
  const key = createPrivateKey(opts.signer.keyPem);
  const lifetime = opts.expiresIn ?? 300;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    const service = url.searchParams.get('service');
    let user: string | null = null;
    const auth = req.headers.authorization;
    const answer = (status: number, body: unknown) => {
      requests.push({ scopes, service, user, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      if (colon < 0 || opts.users[name] === undefined || opts.users[name] !== decoded.slice(colon + 1)) {
        return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] });
      }
      user = name;
    }
    if (service !== opts.service) return answer(400, { errors: [{ code: 'DENIED', message: `unknown service ${service}` }] });
    const access = scopes.flatMap((s) => {
      const p = parseScope(s);
      if (p?.type !== 'repository') return [];
      const isPublic = (opts.publicPrefixes ?? []).some((prefix) => p.name.startsWith(prefix));
      const actions = user !== null ? p.actions : isPublic ? p.actions.filter((a) => a === 'pull') : [];
      return actions.length ? [{ type: p.type, name: p.name, actions }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [opts.signer.certDerBase64] };
    const claims = {
      iss: opts.issuer,
      sub: user ?? '',
      aud: opts.service,
      exp: now + lifetime,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${b64url(signature)}`;
    answer(200, { token, access_token: token, expires_in: lifetime, issued_at: new Date(now * 1000).toISOString() });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
