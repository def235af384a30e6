import { describe, expect, it } from 'vitest';
import { humanBytes, humanDuration, table } from './format.js';
import { createProgress, renderProgress } from './progress.js';

describe('renderProgress', () => {
  it('shows a bar, percentage, bytes, entries, rate and ETA when the total is known', () => {
    const line = renderProgress({ label: 'layer 1/3', bytes: 50 << 20, total: 100 << 20, entries: 1234, elapsed: 10 }, 120);
    expect(line).toBe('layer 1/3 [###############---------------]  50%  50.0 MiB/100 MiB  1234 entries  5.0 MiB/s  ETA 10s');
  });

  it('without a total: bytes, rate, no bar and no ETA; fits narrow terminals', () => {
    expect(renderProgress({ label: 'diff', bytes: 1536, entries: 0, elapsed: 1 }, 80)).toBe('diff 1.5 KiB  1.5 KiB/s');
    expect(renderProgress({ label: 'layer 1/3', bytes: 1, total: 2, entries: 5, elapsed: 1 }, 20).length).toBeLessThan(20);
  });
});

describe('createProgress', () => {
  it('draws nothing when disabled or when the stream is not a terminal', () => {
    const writes: string[] = [];
    const out = { isTTY: false, columns: 80, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
    const p = createProgress({ enabled: true, out });
    p.part('x');
    p.addBytes(10);
    p.done();
    const q = createProgress({ enabled: false, out: { ...out, isTTY: true } as NodeJS.WriteStream });
    q.part('y');
    q.done();
    expect(writes).toEqual([]);
  });

  it('on a terminal: redraws one line, keeps entries across parts, and clears it at the end', () => {
    const writes: string[] = [];
    const out = { isTTY: true, columns: 100, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
    const p = createProgress({ enabled: true, out, total: 100, interval: 0 });
    p.part('layer 1/2');
    p.entries(3);
    p.part('layer 2/2');
    p.entries(2);
    p.addBytes(100);
    p.done();
    expect(writes.every((w) => w.startsWith('\r\x1b[2K'))).toBe(true);
    expect(writes.at(-2)).toMatch(/^\r\x1b\[2Klayer 2\/2 .*100%.*5 entries/);
    expect(writes.at(-1)).toBe('\r\x1b[2K');
  });
});

describe('format', () => {
  it('bytes, durations and tables', () => {
    expect([humanBytes(0), humanBytes(1023), humanBytes(1024), humanBytes(5 * 2 ** 30)]).toEqual(['0 B', '1023 B', '1.0 KiB', '5.0 GiB']);
    expect([humanDuration(5), humanDuration(65), humanDuration(3725)]).toEqual(['5s', '1m05s', '1h02m']);
    expect(table(['A', 'BB'], [['xyz', '1']])).toBe('A     BB\nxyz   1');
  });
});
