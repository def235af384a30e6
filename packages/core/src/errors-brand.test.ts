// isGraphDriverError tells our errors from Node's own, which also carry "ERR_..." codes.
import { chown } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode, GraphDriverError, isGraphDriverError } from './errors.js';
import { ToolError } from './exec.js';

describe('isGraphDriverError', () => {
  it('is true for GraphDriverError and its subclasses, with or without a code to match', () => {
    expect(isGraphDriverError(new GraphDriverError(ErrorCode.InvalidId, 'x'))).toBe(true);
    expect(isGraphDriverError(new GraphDriverError(ErrorCode.InvalidId, 'x'), ErrorCode.InvalidId)).toBe(true);
    expect(isGraphDriverError(new GraphDriverError(ErrorCode.InvalidId, 'x'), ErrorCode.NoSpace)).toBe(false);
    expect(isGraphDriverError(new ToolError('false', [], 1, ''))).toBe(true);
  });

  it("is false for Node's errors with ERR_ codes (a uid beyond 32 bits, a wrong argument type)", async () => {
    const range = await chown('/nonexistent', 2 ** 40, 0).catch((e: unknown) => e);
    expect((range as { code: string }).code).toBe('ERR_OUT_OF_RANGE');
    expect(isGraphDriverError(range)).toBe(false);
    const lookalike = Object.assign(new Error('x'), { code: 'ERR_LAYER_NOT_FOUND' });
    expect(isGraphDriverError(lookalike)).toBe(false);
  });
});
