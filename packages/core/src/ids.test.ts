import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { normalizeParent, validateId } from './ids.js';

describe('validateId', () => {
  it.each([
    ['', 'empty'],
    ['.', 'reserved'],
    ['..', 'reserved'],
    ['a/b', '"/"'],
    ['/abs', '"/"'],
    ['a\0b', 'NUL'],
    ['x'.repeat(256), '255 bytes'],
    ['é'.repeat(128), '255 bytes'], // 256 bytes in UTF-8
  ])('refuses %j (%s)', (id, why) => {
    expect(() => validateId(id)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId, message: expect.stringContaining(why) }));
  });
  it('refuses non-strings', () => {
    expect(() => validateId(42)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId }));
  });
  it.each(['a', 'x'.repeat(255), 'sha256:abc', '...', '.hidden', 'a b', 'é'.repeat(127)])('accepts %j', (id) => {
    expect(() => validateId(id)).not.toThrow();
  });
  it('normalises the no-parent spellings', () => {
    expect(normalizeParent(undefined)).toBeNull();
    expect(normalizeParent(null)).toBeNull();
    expect(normalizeParent('')).toBeNull();
    expect(normalizeParent('p')).toBe('p');
    expect(() => normalizeParent('..')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId }));
  });
});
