import { describe, expect, it } from 'vitest';
import { ToolError } from '@graphdriver/core';
import { retryWhileBusy } from './retry.js';

const busy = () => new ToolError('zfs', ['mount'], 1, "cannot mount 'x': mountpoint or dataset is busy\n");

describe('retryWhileBusy', () => {
  it('retries "busy" until the command succeeds', async () => {
    let calls = 0;
    const r = await retryWhileBusy(async () => {
      if (++calls < 3) throw busy();
      return 'done';
    });
    expect(r).toBe('done');
    expect(calls).toBe(3);
  });

  it('passes other errors through at once', async () => {
    let calls = 0;
    const other = new ToolError('zfs', [], 1, 'dataset does not exist');
    await expect(
      retryWhileBusy(async () => {
        calls++;
        throw other;
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });

  it('gives up with the last "busy" when the budget is spent', async () => {
    let calls = 0;
    await expect(
      retryWhileBusy(async () => {
        calls++;
        throw busy();
      }, 200),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/busy/) });
    expect(calls).toBeGreaterThan(1);
  });
});
