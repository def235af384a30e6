// A program that filters stdin to stdout (igzip, unpigz, pigz, zstd) as a Duplex stream, with
// backpressure both ways. A non-zero exit fails the readable side with core's ToolError (the
// command, its code and stderr), and destroying the stream kills the program.
import { type ChildProcess, spawn } from 'node:child_process';
import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { ToolError, tool } from '@graphdriver/core';

export interface Filter {
  readonly command: string;
  /** True once the program is known to run here (checked once per process). */
  available(): Promise<boolean>;
  /** A new process: bytes written are its stdin, bytes read its stdout. */
  stream(): Duplex;
  /**
   * A new process reading `input` (a stream, or the file open at that descriptor, from its
   * current offset) and writing to the file open at `fd` (descriptors stay the caller's to
   * close). `finished` resolves when it exited 0 and rejects with the failure otherwise, or
   * with `input`'s error; `kill` stops it.
   */
  toFile(fd: number, input: Readable | number): { finished: Promise<void>; kill(): void };
}

export interface FilterOptions {
  probe?: readonly string[];
  /** What a failed run means to the reader (corrupt input, say), instead of a ToolError. */
  failure?: (err: ToolError) => Error;
}

export function filter(command: string, args: readonly string[], opts: FilterOptions = {}): Filter {
  const fail = (err: ToolError) => opts.failure?.(err) ?? err;
  let found: Promise<boolean> | undefined;
  // the program with stdin and stdout a pipe or a descriptor; `settled` hears once how it ended
  const run = (stdin: 'pipe' | number, stdout: 'pipe' | number, settled: (err?: Error) => void): ChildProcess => {
    const child = spawn(command, [...args], { stdio: [stdin, stdout, 'pipe'] });
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    child.stderr?.on('data', (c: Buffer) => {
      // keep the start of what it said: enough for the message
      if (stderrBytes < 4096) stderr.push(c);
      stderrBytes += c.length;
    });
    // the program may exit (bad data) before it has read all we write: its code tells why
    child.stdin?.on('error', () => {});
    let failed = false;
    child.on('error', (err) => {
      failed = true;
      settled(fail(new ToolError(command, args, undefined, err.message, err)));
    });
    child.on('close', (code, signal) => {
      if (failed) return;
      if (code === 0) settled();
      else settled(fail(new ToolError(command, args, code ?? undefined, Buffer.concat(stderr).toString() || `killed by ${signal}`)));
    });
    return child;
  };
  return {
    command,
    available: () => (found ??= tool(command).available(opts.probe ?? ['--version'])),
    stream() {
      const out = new PassThrough({ highWaterMark: 1 << 20 });
      const child = run('pipe', 'pipe', (err) => (err ? out.destroy(err) : out.end()));
      child.stdout?.pipe(out, { end: false });
      const duplex = Duplex.from({ writable: child.stdin as Writable, readable: out });
      duplex.on('close', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill();
      });
      return duplex;
    },
    toFile(fd, input) {
      let child: ChildProcess | undefined;
      const finished = new Promise<void>((resolve, reject) => {
        child = run(typeof input === 'number' ? input : 'pipe', fd, (err) => (err ? reject(err) : resolve()));
        if (typeof input === 'number') return;
        // the input failing (a download cut short, a digest mismatch) stops the program: that
        // error, not the program's view of a stream cut short, is the cause
        input.once('error', (err) => {
          child?.kill();
          reject(err);
        });
        input.pipe(child.stdin as Writable);
      });
      return { finished, kill: () => child?.kill() };
    },
  };
}
