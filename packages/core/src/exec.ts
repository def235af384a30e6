// One small typed wrapper per shelled-out tool: drivers build theirs on `tool()`, so every
// failure carries the command line, exit code and stderr.
// Straight on node:child_process, no process library: loading execa's 138 ES modules cost
// every fresh process ~200 ms of CPU before any work (issue 18, tools/bench/RESULTS.md), and
// a long-running process must not resolve a module when it first shells out, hours in
// (node_modules may have been re-linked under it since; issue 16 item 8). exec.test.ts
// holds both lines.
import { spawn } from 'node:child_process';
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
    run(args, opts = {}) {
      return runToEnd(command, args, { ...defaults, ...opts });
    },
    // stdout handed on as it comes, never collected.
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
        await runToEnd(command, probeArgs, { timeout: 15_000 });
        return true;
      } catch (err) {
        // It ran but did not like the probe: it exists.
        return typeof (err as ToolError).exitCode === 'number';
      }
    },
  };
}

// After a timeout's SIGTERM, a program that ignores it gets SIGKILL this much later.
const KILL_AFTER_MS = 5_000;

/** Runs `command` to completion, output collected; every failure is a {@link ToolError}. */
function runToEnd(command: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: o.cwd,
      env: o.env ? { ...process.env, ...o.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    let killer: NodeJS.Timeout | undefined;
    const timer =
      o.timeout === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
            killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
            killer.unref();
          }, o.timeout);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // A program that exits without reading its input closes the pipe under us: not an error of ours.
    child.stdin.on('error', () => {});
    child.stdin.end(o.input);
    child.on('error', (e) => {
      spawnError = e;
      // never started: there is no 'close' to wait for
      if (child.pid === undefined) settle(null, null);
    });
    child.on('close', settle);
    let settled = false;
    function settle(code: number | null, signal: NodeJS.Signals | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0 && !timedOut && spawnError === undefined) {
        resolve({ stdout, stderr });
        return;
      }
      const why = spawnError
        ? spawnError.message
        : timedOut
          ? `timed out after ${o.timeout} ms`
          : signal
            ? `killed by ${signal}`
            : `exit code ${code}`;
      const exitCode = timedOut || spawnError || code === null ? undefined : code;
      reject(new ToolError(command, args, exitCode, stderr || why, spawnError));
    }
  });
}
