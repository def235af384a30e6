// One small typed wrapper per shelled-out tool: drivers build theirs on `tool()`, so every
// failure carries the command line, exit code and stderr.
import { spawn } from 'node:child_process';
// Loaded with the library, never on first use: a long-running process must not resolve a
// module when it first shells out, hours in (node_modules may have been re-linked under
// it since; issue 16 item 8). The build bundles execa (tsup.config.ts), so a fresh process
// loads one file instead of resolving ~140 modules (issue 18). exec.test.ts holds both lines.
import { execa } from 'execa';
import { ErrorCode, GraphDriverError } from './errors.js';

/**
 * An external program that could not run, timed out or exited non-zero (code ERR_TOOL_FAILED).
 * The message is the command line, the status and stderr, in one line for a person.
 */
export class ToolError extends GraphDriverError {
  /** The program as given to {@link tool}, e.g. "btrfs". */
  readonly command: string;
  /** Its arguments, as passed. */
  readonly args: readonly string[];
  /** The exit status; undefined when it could not be started, was killed or timed out. */
  readonly exitCode: number | undefined;
  /** What it wrote to stderr (or why it could not run). */
  readonly stderr: string;
  /**
   * @param command - the program.
   * @param args - its arguments.
   * @param exitCode - its exit status, undefined when it never exited normally.
   * @param stderr - its error output.
   * @param cause - the underlying spawn or exit error.
   */
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

/** How {@link Tool.run} starts the program; given to {@link tool} they are defaults for every run. */
export interface RunOptions {
  /** Written to the program's stdin, which is then closed. */
  input?: string | Buffer;
  /** Variables added to (not replacing) this process's environment. */
  env?: Record<string, string>;
  /** Milliseconds before the process is killed; a timeout rejects with a {@link ToolError} without exit code. */
  timeout?: number;
  /** Working directory; this process's when unset. */
  cwd?: string;
}

/** The output of a successful run, whole, trailing newline kept. */
export interface RunResult {
  /** Everything written to stdout, as UTF-8. */
  stdout: string;
  /** Everything written to stderr (warnings of a run that still exited 0). */
  stderr: string;
}

/** One external program, run without a shell; every failure is a {@link ToolError}. */
export interface Tool {
  /** The program name or path, resolved on PATH. */
  readonly command: string;
  /**
   * Runs the program with `args` to completion and returns its output. Rejects with a
   * {@link ToolError} (ERR_TOOL_FAILED) when it cannot start, times out or exits non-zero.
   */
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

/**
 * The one way this library and its drivers run an external program: `tool('btrfs').run([...])`.
 * Arguments are passed as an array (no shell, so no quoting bugs), and a failure carries the
 * command line, exit code and stderr as a {@link ToolError}.
 *
 * @param command - program name (looked up on PATH) or path.
 * @param defaults - options for every run; a run's own options override them key by key.
 */
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
        const e = err as { exitCode?: number; stderr?: unknown; timedOut?: boolean; signal?: string; shortMessage?: string };
        // A program that failed silently still gets a reason a person can read.
        const why = e.timedOut
          ? `timed out after ${o.timeout} ms`
          : e.signal
            ? `killed by ${e.signal}`
            : typeof e.exitCode === 'number'
              ? `exit code ${e.exitCode}`
              : (e.shortMessage ?? String(err));
        const stderr = typeof e.stderr === 'string' && e.stderr ? e.stderr : why;
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
