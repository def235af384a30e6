import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { MAX_ID_LENGTH, normalizeParent, validateId } from './ids.js';

describe('validateId', () => {
  it.each([
    ['', 'empty'],
    ['.', 'letter or digit'],
    ['..', 'letter or digit'],
    ['...', 'letter or digit'],
    ['.hidden', 'letter or digit'],
    ['a/b', 'letter or digit'],
    ['/abs', 'letter or digit'],
    ['a\0b', 'letter or digit'],
    ['bad id!', 'letter or digit'],
    ['a b', 'letter or digit'],
    ['a:b', 'letter or digit'], // breaks overlay's lowerdir=a:b
    ['a,b', 'letter or digit'], // breaks mount option lists
    ['sha256:abc', 'letter or digit'],
    ['-rf', 'letter or digit'],
    ['_x', 'letter or digit'],
    ['é', 'letter or digit'],
    ['x;touch y', 'letter or digit'],
    ['a\n', 'letter or digit'],
    ['x'.repeat(MAX_ID_LENGTH + 1), `longer than ${MAX_ID_LENGTH}`],
  ])('refuses %j (%s)', (id, why) => {
    expect(() => validateId(id)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId, message: expect.stringContaining(why) }));
  });
  it('refuses non-strings', () => {
    expect(() => validateId(42)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId }));
  });
  it.each([
    'a',
    '0',
    'x'.repeat(MAX_ID_LENGTH),
    'my-layer_1.0',
    'A.b-C_d',
    // the image import names layers by their chain ID's hex
    'ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c',
  ])('accepts %j', (id) => {
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
