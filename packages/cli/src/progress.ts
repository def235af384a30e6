// A one-line progress display on stderr for long operations (import, export, apply, diff):
// bytes (of a total when known), entries, rate and ETA. It draws only on a terminal, and
// not at all in --json or -q mode, so scripts and logs never see control characters.
import { humanBytes, humanDuration } from './format.js';

export interface ProgressState {
  label: string;
  bytes: number;
  total?: number;
  entries: number;
  /** Seconds since the start. */
  elapsed: number;
}

export interface Progress {
  /** Starts a new part (a layer): a new label, entries of earlier parts are kept. */
  part(label: string): void;
  addBytes(n: number): void;
  /** Entries done so far in the current part (as core's onProgress reports them). */
  entries(n: number): void;
  /** Clears the line; further updates are ignored. */
  done(): void;
}

export interface ProgressOptions {
  enabled: boolean;
  total?: number;
  out?: NodeJS.WriteStream;
  /** Milliseconds between redraws. */
  interval?: number;
}

const noop: Progress = { part() {}, addBytes() {}, entries() {}, done() {} };

export function createProgress(opts: ProgressOptions): Progress {
  const out = opts.out ?? process.stderr;
  if (!opts.enabled || !out.isTTY) return noop;
  const interval = opts.interval ?? 100;
  const start = Date.now();
  let label = '';
  let bytes = 0;
  let entriesBefore = 0;
  let entriesNow = 0;
  let lastDraw = 0;
  let finished = false;

  const draw = (force = false) => {
    const now = Date.now();
    if (finished || (!force && now - lastDraw < interval)) return;
    lastDraw = now;
    const line = renderProgress(
      { label, bytes, total: opts.total, entries: entriesBefore + entriesNow, elapsed: (now - start) / 1000 },
      out.columns || 80,
    );
    out.write(`\r\x1b[2K${line}`);
  };

  return {
    part(next) {
      entriesBefore += entriesNow;
      entriesNow = 0;
      label = next;
      draw(true);
    },
    addBytes(n) {
      bytes += n;
      draw();
    },
    entries(n) {
      entriesNow = n;
      draw();
    },
    done() {
      if (finished) return;
      finished = true;
      out.write('\r\x1b[2K');
    },
  };
}

/** The text of one progress line, fitted to `width` columns. */
export function renderProgress(s: ProgressState, width: number): string {
  const rate = s.elapsed > 0 ? s.bytes / s.elapsed : 0;
  const parts: string[] = [];
  if (s.total) {
    const pct = Math.min(100, Math.floor((s.bytes / s.total) * 100));
    parts.push(`${String(pct).padStart(3)}%`, `${humanBytes(s.bytes)}/${humanBytes(s.total)}`);
  } else {
    parts.push(humanBytes(s.bytes));
  }
  if (s.entries) parts.push(`${s.entries} entries`);
  parts.push(`${humanBytes(Math.round(rate))}/s`);
  if (s.total && rate > 0 && s.bytes < s.total) parts.push(`ETA ${humanDuration((s.total - s.bytes) / rate)}`);
  const tail = parts.join('  ');
  let bar = '';
  const room = width - tail.length - s.label.length - 4;
  if (s.total && room >= 12) {
    const cells = Math.min(30, room - 2);
    const filled = Math.round((Math.min(s.bytes, s.total) / s.total) * cells);
    bar = `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}] `;
  }
  const line = `${s.label ? `${s.label} ` : ''}${bar}${tail}`;
  return line.length > width - 1 ? line.slice(0, Math.max(0, width - 1)) : line;
}
