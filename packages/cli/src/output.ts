// Where results go: one JSON document on stdout with --json, plain text otherwise, and
// only the essential value (an id, a path, a number) with -q. A result line clears the
// progress line first: on a terminal both land on the same screen line.
import type { GlobalOptions } from './session.js';
import { createProgress, type Progress } from './progress.js';

export class Output {
  private active: Progress | undefined;

  constructor(
    readonly g: Pick<GlobalOptions, 'json' | 'quiet'>,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /**
   * Prints a command's result: `json` with --json; else `text` (a string or lines), or
   * `quiet` with -q (nothing when `quiet` is undefined).
   */
  result(json: unknown, text: string | string[], quiet?: string | string[]): void {
    this.clearProgress();
    if (this.g.json) {
      this.stdout.write(`${JSON.stringify(json)}\n`);
      return;
    }
    const body = this.g.quiet ? quiet : text;
    if (body === undefined) return;
    const lines = Array.isArray(body) ? body : [body];
    if (lines.length) this.stdout.write(`${lines.join('\n')}\n`);
  }

  /** Ends the progress display, if one is drawn (before a result, an error, or the exit). */
  clearProgress(): void {
    this.active?.done();
    this.active = undefined;
  }

  /** A progress display on stderr, drawn only when it is a terminal and neither --json nor -q is given. */
  progress(total?: number): Progress {
    this.clearProgress();
    this.active = createProgress({ enabled: !this.g.json && !this.g.quiet, total, out: this.stderr });
    return this.active;
  }
}
