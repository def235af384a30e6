import { describe, expect, it } from 'vitest';
import { invalidArchive } from './errors.js';

describe('archive errors', () => {
  it('show a garbage entry name on one printable line', () => {
    const garbage = '\u0001ab\u0085\ufffd\n' + 'x'.repeat(400);
    const { message } = invalidArchive('bad header checksum', { name: garbage, offset: 512 });
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\ufffd]/);
    expect(message).toContain('entry "\\u0001ab\\u0085\\ufffd\\n' + 'x'.repeat(250));
    expect(message).toContain('..." at offset 512): bad header checksum');
  });

  it('keep a readable name as it is', () => {
    expect(invalidArchive('truncated', { name: 'usr/share/café' }).message).toBe('invalid tar archive (entry "usr/share/café"): truncated');
  });
});
