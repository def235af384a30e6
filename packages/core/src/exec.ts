// One small typed wrapper per shelled-out tool: drivers build theirs on `tool()`, so every
// failure carries the command line, exit code and stderr.
import { spawn } from 'node:child_process';
// Loaded with the library, never on first use: a long-running process must not resolve a
// module when it first shells out, hours in (node_modules may have been re-linked under
// it since; issue 16 item 8). exec.test.ts holds that line.
import { execa } from 'execa';
import { ErrorCode, GraphDriverError } from './errors.js';

export class ToolError extends GraphDriverError {
  readonly command: string;
  readonly args: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(command: string, args: readonly string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    const line = [command, ...args].join(' ');
    const status = exitCode === undefined ? 'could not run' : `exited ${exitCode}`;
    super(ErrorCode.ToolFailed, `${line}: ${status}${stderr ? `: ${stderr.trim()}` : ''}`, { cause });
    this.name = 'ToolError';
    this.command = command;
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Milliseconds before the process is killed. */
  timeout?: number;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface Tool {
  readonly command: string;
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * Runs with stdout handed to `onData` chunk by chunk as it comes (a binary stream such as
   * `btrfs send`, parsed without landing anywhere). An exception thrown by `onData`, or
   * `signal`, stops the process and rejects with that error; settles only once the process
   * is gone.
   */
  stream(args: readonly string[], onData: (chunk: Buffer) => void, opts?: { signal?: AbortSignal }): Promise<void>;
  /** True when the command can be started at all (exists on PATH and executes). */
  available(probeArgs?: readonly string[]): Promise<boolean>;
}

export function tool(command: string, defaults: RunOptions = {}): Tool {
  return {
    command,
    async run(args, opts = {}) {
      const o = { ...defaults, ...opts };
      try {
        const r = await execa(command, [...args], {
          input: o.input,
          env: o.env,
          timeout: o.timeout,
          cwd: o.cwd,
          stripFinalNewline: false,
          reject: true,
        });
        return { stdout: String(r.stdout), stderr: String(r.stderr) };
      } catch (err) {
        const e = err as { exitCode?: number; stderr?: unknown; timedOut?: boolean; shortMessage?: string };
        const stderr = typeof e.stderr === 'string' && e.stderr ? e.stderr : (e.shortMessage ?? String(err));
        throw new ToolError(command, args, e.timedOut ? undefined : e.exitCode, stderr, err);
      }
    },
    // Straight on child_process: execa would collect or transform the binary stream.
    stream(args, onData, opts = {}) {
      return new Promise<void>((resolve, reject) => {
        let failure: unknown;
        const stderr: Buffer[] = [];
        const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal });
        child.stdout.on('data', (chunk: Buffer) => {
          if (failure !== undefined) return;
          try {
            onData(chunk);
          } catch (err) {
            failure = err;
            child.kill();
          }
        });
        child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.on('error', (err) => {
          failure ??= err.name === 'AbortError' ? err : new ToolError(command, args, undefined, err.message, err);
          // never started: there is no 'close' to wait for
          if (child.pid === undefined) reject(failure);
        });
        child.on('close', (code) => {
          if (failure !== undefined) reject(failure);
          else if (code === 0) resolve();
          else reject(new ToolError(command, args, code ?? undefined, Buffer.concat(stderr).toString()));
        });
      });
    },
    async available(probeArgs = ['--version']) {
      try {
        await execa(command, [...probeArgs], { timeout: 15_000 });
        return true;
      } catch (err) {
        // It ran but did not like the probe: it exists.
        return typeof (err as { exitCode?: number }).exitCode === 'number';
      }
    },
  };
}
