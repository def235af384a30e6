// A fault-injecting proxy between a client and a plain-http registry. It forwards every
// request as is (Host header included, so the registry's upload Locations point back at the
// proxy) and applies the first matching rule that still has uses left: answer a status
// (503, 429 with Retry-After, anything), serve a canned body, redirect, drop the connection
// after N body bytes, or pace the body slowly. Every request is logged with its Range and
// Authorization headers and the body bytes that went each way, so tests assert what the
// client really asked and how much really moved.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultAction =
  /** Answer this status (and headers/body) without asking the registry. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /** Answer 3xx with Location = to(path), e.g. the same path on another host name. */
  | { kind: 'redirect'; status?: number; to: (path: string) => string }
  /** Forward, then cut the connection after this many response body bytes (0: before any answer). */
  | { kind: 'drop'; afterBytes: number }
  /** Forward, sending the response body `chunkBytes` at a time every `intervalMs`. */
  | { kind: 'slow'; chunkBytes: number; intervalMs: number };

export interface FaultRule {
  method?: string;
  path: RegExp;
  /** How many requests the rule applies to (default: all). */
  times?: number;
  action: FaultAction;
}

export interface ProxyRecord {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Status the client got (0 if the connection was dropped before headers). */
  status: number;
  /** Request body bytes the client sent. */
  requestBytes: number;
  /** Response body bytes that reached the client. */
  responseBytes: number;
  /** The rule's action kind, if one applied. */
  fault?: FaultAction['kind'];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`. */
  host: string;
  port: number;
  readonly log: ProxyRecord[];
  addRule(rule: FaultRule): void;
  clearRules(): void;
  clearLog(): void;
  stop(): Promise<void>;
}

/** Starts a proxy on a free loopback port in front of `upstream` (`HOST:PORT`, plain http). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const [upHost, upPort] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  const rules: Array<FaultRule & { used: number }> = [];
  const log: ProxyRecord[] = [];
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const rule = rules.find((r) => (!r.method || r.method === req.method) && r.path.test(path) && r.used < (r.times ?? Infinity));
    if (rule) rule.used++;
    const record: ProxyRecord = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      status: 0,
      requestBytes: 0,
      responseBytes: 0,
      fault: rule?.action.kind,
    };
    log.push(record);
    req.on('data', (chunk: Buffer) => (record.requestBytes += chunk.length));
    const action = rule?.action;
    if (action?.kind === 'status') {
      req.resume();
      const body = action.body === undefined ? Buffer.alloc(0) : Buffer.from(action.body);
      record.status = action.status;
      record.responseBytes = body.length;
      res.writeHead(action.status, { 'content-length': String(body.length), ...action.headers });
      res.end(body);
      return;
    }
    if (action?.kind === 'drop' && action.afterBytes === 0) {
      req.resume();
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'redirect') {
      req.resume();
      record.status = action.status ?? 307;
      res.writeHead(record.status, { location: action.to(path), 'content-length': '0' });
      res.end();
      return;
    }
    const up = request({ host: upHost, port: upPort, method: req.method, path, headers: req.headers }, (upRes) => {
      record.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (action?.kind === 'drop') {
        upRes.on('data', (chunk: Buffer) => {
          const room = action.afterBytes - record.responseBytes;
          if (room <= 0) return;
          const part = chunk.subarray(0, room);
          record.responseBytes += part.length;
          res.write(part, () => {
            if (record.responseBytes >= action.afterBytes) {
              upRes.destroy();
              res.socket?.destroy();
            }
          });
        });
        upRes.on('end', () => res.end());
      } else if (action?.kind === 'slow') {
        upRes.pause();
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.resume();
        upRes.on('end', () => {
          const all = Buffer.concat(chunks);
          let off = 0;
          const tick = () => {
            if (res.destroyed) return;
            if (off >= all.length) return void res.end();
            const part = all.subarray(off, off + action.chunkBytes);
            off += part.length;
            record.responseBytes += part.length;
            res.write(part);
            setTimeout(tick, action.intervalMs);
          };
          tick();
        });
      } else {
        upRes.on('data', (c: Buffer) => (record.responseBytes += c.length));
        upRes.pipe(res);
      }
    });
    up.on('error', () => res.socket?.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  };

  const server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    log,
    addRule: (rule) => void rules.push({ ...rule, used: 0 }),
    clearRules: () => void rules.splice(0),
    clearLog: () => void log.splice(0),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
