import { describe, expect, it } from 'vitest';
import { parseZfsSize, zfsSizeOrZero } from './human-size.js';

describe('parseZfsSize', () => {
  it('reads exact byte counts (-p output)', () => {
    expect(parseZfsSize('0')).toBe(0);
    expect(parseZfsSize('372736')).toBe(372736);
    expect(parseZfsSize('228216832\n')).toBe(228216832);
  });

  it('reads zfs_nicenum human sizes as powers of 1024', () => {
    expect(parseZfsSize('512')).toBe(512);
    expect(parseZfsSize('364K')).toBe(364 * 1024);
    expect(parseZfsSize('1.50K')).toBe(1536);
    expect(parseZfsSize('218M')).toBe(218 * 2 ** 20);
    expect(parseZfsSize('15.2G')).toBe(Math.round(15.2 * 2 ** 30));
    expect(parseZfsSize('2T')).toBe(2 * 2 ** 40);
    expect(parseZfsSize('1P')).toBe(2 ** 50);
    expect(parseZfsSize('16.0E')).toBe(16 * 2 ** 60);
  });

  it('accepts lower-case units and a B suffix', () => {
    expect(parseZfsSize('50m')).toBe(50 * 2 ** 20);
    expect(parseZfsSize('4KB')).toBe(4096);
    expect(parseZfsSize('4KiB')).toBe(4096);
  });

  it('reads "none" and "-" as no value', () => {
    expect(parseZfsSize('none')).toBeNull();
    expect(parseZfsSize('-')).toBeNull();
    expect(zfsSizeOrZero('none')).toBe(0);
    expect(zfsSizeOrZero('50M')).toBe(52428800);
  });

  it('rejects what is not a size', () => {
    expect(() => parseZfsSize('1.00x')).toThrow(/unreadable zfs size/);
    expect(() => parseZfsSize('lots')).toThrow(/unreadable zfs size/);
    expect(() => parseZfsSize('-5')).toThrow(/unreadable zfs size/);
  });
});
