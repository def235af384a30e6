// Runs the built `graphdriver` binary as a user would: a separate process, real stdin,
// stdout and stderr, and its exit status.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Bytes for stdin (stdin is an empty pipe otherwise). */
  input?: Buffer | string;
  /** Run as this user (the tests run as root). */
  uid?: number;
  gid?: number;
}

export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const run = spawnCli(args, opts);
  run.child.stdin.end(opts.input ?? '');
  return run.result;
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** Settles when the process has exited; `signal` is set when a signal ended it. */
  result: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

/** Starts the CLI and hands back the process (to signal it, or write its stdin) and its result. */
export function spawnCli(args: readonly string[], opts: Omit<CliOptions, 'input'> = {}): RunningCli {
  const env = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env,
    uid: opts.uid,
    gid: opts.gid,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {}); // the CLI may exit before reading all of it
  const result = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        status: code ?? (signal ? 128 : 1),
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
  });
  return { child, result };
}

/** Runs and parses stdout as the one JSON document --json promises. */
export async function runJson<T = unknown>(args: readonly string[], opts: CliOptions = {}): Promise<T> {
  const r = await runCli(['--json', ...args], opts);
  if (r.status !== 0) throw new Error(`graphdriver ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Runs the CLI under a pseudo-terminal (util-linux `script`), capturing what a terminal shows. */
export function runInTerminal(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', quoted, '/dev/null'], {
      cwd: opts.cwd,
      env: { ...process.env, COLUMNS: '100', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ status: code ?? 1, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    child.stdin.end();
  });
}

/**
 * What a terminal shows for `raw`: the screen's lines after carriage returns, newlines and
 * erase-line (`ESC [2K`) are applied. Other escape sequences are dropped.
 */
export function screenLines(raw: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\r') col = 0;
    else if (c === '\n') {
      lines.push(line.join('').trimEnd());
      line = [];
      col = 0;
    } else if (c === '\x1b') {
      const m = /^\x1b\[([0-9;?]*)([A-Za-z])/.exec(raw.slice(i));
      if (!m) continue;
      if (m[2] === 'K' && m[1] === '2') line = line.map(() => ' ');
      i += m[0].length - 1;
    } else {
      while (line.length < col) line.push(' ');
      line[col++] = c;
    }
  }
  if (line.length) lines.push(line.join('').trimEnd());
  return lines;
}
