import { describe, expect, it } from 'vitest';
import {
  asStorageError,
  errIncompatibleFS,
  errLayerBusy,
  errLayerExists,
  errLayerNotFound,
  errNotSupported,
  errnoCode,
  ErrorCode,
  errPrerequisites,
  errQuotaNotSupported,
  GraphDriverError,
  isDriverNotSupported,
  isGraphDriverError,
} from './errors.js';

describe('errors', () => {
  it('carry stable codes', () => {
    expect(errNotSupported('x').code).toBe('ERR_NOT_SUPPORTED');
    expect(errPrerequisites('btrfs', 'why').code).toBe('ERR_PREREQUISITES');
    expect(errIncompatibleFS('d', 'tmpfs').code).toBe('ERR_INCOMPATIBLE_FS');
    expect(errQuotaNotSupported('why').code).toBe('ERR_QUOTA_NOT_SUPPORTED');
    expect(errLayerNotFound('a').code).toBe('ERR_LAYER_NOT_FOUND');
    expect(errLayerExists('a').code).toBe('ERR_LAYER_EXISTS');
    expect(errLayerBusy('a', 'mounted').code).toBe('ERR_LAYER_BUSY');
    expect(errPrerequisites('btrfs', 'why').message).toContain('prerequisites for driver btrfs not satisfied (wrong filesystem?)');
    expect(errNotSupported('x')).toBeInstanceOf(GraphDriverError);
    expect(errNotSupported('x')).toBeInstanceOf(Error);
  });
  it('isDriverNotSupported covers the not-supported family only', () => {
    expect(isDriverNotSupported(errNotSupported('x'))).toBe(true);
    expect(isDriverNotSupported(errPrerequisites('x', 'y'))).toBe(true);
    expect(isDriverNotSupported(errIncompatibleFS('x', 'y'))).toBe(true);
    expect(isDriverNotSupported(errLayerBusy('a', 'b'))).toBe(false);
    expect(isDriverNotSupported(new Error('x'))).toBe(false);
    expect(isDriverNotSupported(undefined)).toBe(false);
  });
  it('names EDQUOT even though libuv does not', () => {
    const e = Object.assign(new Error('quota'), { errno: -122, code: 'Unknown system error -122' });
    expect(errnoCode(e)).toBe('EDQUOT');
    const wrapped = asStorageError(e, 'apply');
    expect(isGraphDriverError(wrapped, ErrorCode.NoSpace)).toBe(true);
    expect((wrapped as Error).cause).toBe(e);
    const other = new Error('x');
    expect(asStorageError(other, 'apply')).toBe(other);
  });
});
