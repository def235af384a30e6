// One small typed wrapper per shelled-out tool: drivers build theirs on `tool()`, so every
// failure carries the command line, exit code and stderr.
import { ErrorCode, GraphDriverError } from './errors.js';

// execa is loaded on first use: most library calls never shell out, and loading it costs a
// one-shot process (the CLI) a noticeable part of its start-up.
let execaModule: Promise<typeof import('execa')> | undefined;
const loadExeca = () => (execaModule ??= import('execa'));

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
  /** True when the command can be started at all (exists on PATH and executes). */
  available(probeArgs?: readonly string[]): Promise<boolean>;
}

export function tool(command: string, defaults: RunOptions = {}): Tool {
  return {
    command,
    async run(args, opts = {}) {
      const o = { ...defaults, ...opts };
      const { execa } = await loadExeca();
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
    async available(probeArgs = ['--version']) {
      const { execa } = await loadExeca();
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
