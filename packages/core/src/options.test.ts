import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { applyOptions, parseBool, parseOption, parseSize, storageOptions } from './options.js';

describe('options', () => {
  it('parses key=value, lower-casing the key', () => {
    expect(parseOption('Btrfs.Min_Space=10G')).toEqual({ key: 'btrfs.min_space', value: '10G' });
    expect(parseOption('a=b=c')).toEqual({ key: 'a', value: 'b=c' });
    expect(() => parseOption('novalue')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
    expect(() => parseOption('=x')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
  });
  it('parses sizes in binary units', () => {
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize('50M')).toBe(50 * 2 ** 20);
    expect(parseSize('50m')).toBe(50 * 2 ** 20);
    expect(parseSize('10GiB')).toBe(10 * 2 ** 30);
    expect(parseSize('1.5g')).toBe(1.5 * 2 ** 30);
    expect(parseSize('2k')).toBe(2048);
    expect(parseSize('7b')).toBe(7);
    for (const bad of ['', 'abc', '-1', '10X', '1e9', 'M']) {
      expect(() => parseSize(bad)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
    }
  });
  it('parses booleans strictly', () => {
    expect(parseBool('k', 'true')).toBe(true);
    expect(parseBool('k', '0')).toBe(false);
    expect(() => parseBool('k', 'maybe')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
  });
  it('refuses unknown driver and storage options', () => {
    const seen: string[] = [];
    applyOptions('vfs', ['vfs.x=1'], { 'vfs.x': (v) => seen.push(v) });
    expect(seen).toEqual(['1']);
    expect(() => applyOptions('vfs', ['vfs.y=1'], {})).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
    expect(storageOptions('vfs', { Size: '1G' }, ['size'])).toEqual({ size: '1G' });
    expect(() => storageOptions('vfs', { bogus: '1' }, ['size'])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
  });
});

describe('humanSize', () => {
  it('formats as Docker does', async () => {
    const { humanSize } = await import('./options.js');
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(40 * 2 ** 20)).toBe('41.94MB');
    expect(humanSize(2 ** 30)).toBe('1.074GB');
  });
});
