// The one skip-or-fail rule: a suite whose backing system is there runs; one whose backing
// system is missing skips with a loud warning, except under CI (CI=true), where it fails.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { missingPrograms, requireBackingSystem, underCi } from './backing-system.js';

describe('requireBackingSystem', () => {
  const ci = process.env.CI;
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
    vi.restoreAllMocks();
  });

  it('runs a suite whose backing system is there (null, empty reason, empty list)', () => {
    process.env.CI = 'true';
    expect(requireBackingSystem('s', null)).toBe(true);
    expect(requireBackingSystem('s', '')).toBe(true);
    expect(requireBackingSystem('s', [])).toBe(true);
  });

  it('elsewhere skips a suite with a missing backing system, saying loudly that it did NOT run', () => {
    delete process.env.CI;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(underCi()).toBe(false);
    expect(requireBackingSystem('the x suite', 'needs y')).toBe(false);
    expect(requireBackingSystem('the z suite', ['a', 'b'])).toBe(false);
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringContaining('SKIPPING the x suite did NOT run: needs y'),
      expect.stringContaining('SKIPPING the z suite did NOT run: needs a, b (tools/setup/install.sh installs them)'),
    ]);
  });

  it('under CI fails a suite with a missing backing system', () => {
    process.env.CI = 'true';
    expect(() => requireBackingSystem('the x suite', 'needs y')).toThrow(/the x suite did NOT run: needs y \(CI=true/);
    expect(() => requireBackingSystem('the z suite', ['a'])).toThrow(/needs a /);
  });
});

describe('missingPrograms', () => {
  it('lists the programs not on PATH, in order', () => {
    expect(missingPrograms(['sh', 'gd-no-such-program-1', 'ls', 'gd-no-such-program-2'])).toEqual([
      'gd-no-such-program-1',
      'gd-no-such-program-2',
    ]);
  });
});
