// A program that filters stdin to stdout (igzip, unpigz, pigz, zstd) as a Duplex stream, with
// backpressure both ways. A non-zero exit fails the readable side with core's ToolError (the
// command, its code and stderr), and destroying the stream kills the program.
import { spawn } from 'node:child_process';
import { Duplex, PassThrough } from 'node:stream';
import { ToolError, tool } from '@graphdriver/core';

export interface Filter {
  readonly command: string;
  /** True once the program is known to run here (checked once per process). */
  available(): Promise<boolean>;
  /** A new process: bytes written are its stdin, bytes read its stdout. */
  stream(): Duplex;
}

export interface FilterOptions {
  probe?: readonly string[];
  /** What a failed run means to the reader (corrupt input, say), instead of a ToolError. */
  failure?: (err: ToolError) => Error;
}

export function filter(command: string, args: readonly string[], opts: FilterOptions = {}): Filter {
  const fail = (err: ToolError) => opts.failure?.(err) ?? err;
  let found: Promise<boolean> | undefined;
  return {
    command,
    available: () => (found ??= tool(command).available(opts.probe ?? ['--version'])),
    stream() {
      const child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out = new PassThrough({ highWaterMark: 1 << 20 });
      const stderr: Buffer[] = [];
      let stderrBytes = 0;
      child.stderr.on('data', (c: Buffer) => {
        // keep the start of what it said: enough for the message
        if (stderrBytes < 4096) stderr.push(c);
        stderrBytes += c.length;
      });
      // the program may exit (bad data) before it has read all we write: its code tells why
      child.stdin.on('error', () => {});
      child.stdout.pipe(out, { end: false });
      let failed = false;
      child.on('error', (err) => {
        failed = true;
        out.destroy(fail(new ToolError(command, args, undefined, err.message, err)));
      });
      child.on('close', (code, signal) => {
        if (failed) return;
        if (code === 0) out.end();
        else out.destroy(fail(new ToolError(command, args, code ?? undefined, Buffer.concat(stderr).toString() || `killed by ${signal}`)));
      });
      const duplex = Duplex.from({ writable: child.stdin, readable: out });
      duplex.on('close', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill();
      });
      return duplex;
    },
  };
}
