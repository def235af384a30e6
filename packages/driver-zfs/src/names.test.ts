import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@graphdriver/core';
import {
  MAX_DATASET_NAME,
  SNAPSHOT_SUFFIX_LEN,
  assertDatasetName,
  datasetNameProblem,
  isValidLayerId,
  layerDatasetName,
  leafName,
  snapshotName,
  tempDatasetName,
} from './names.js';

describe('dataset names', () => {
  it('accepts pool/dataset/child and snapshots', () => {
    expect(datasetNameProblem('tank')).toBeUndefined();
    expect(datasetNameProblem('tank/docker/a:b_c.d-e')).toBeUndefined();
    expect(datasetNameProblem('tank/x@gd-0123')).toBeUndefined();
  });

  it('rejects anything that could be an option or is not plain', () => {
    for (const bad of [
      '',
      '-tank',
      'tank/-x',
      'tank/a b',
      'tank/%x',
      'tank//x',
      'tank/.',
      'tank/..',
      '1tank',
      'tank/x@',
      'tank/x@-s',
      'tank/x@a@b',
    ]) {
      expect(datasetNameProblem(bad), bad).toBeDefined();
      expect(() => assertDatasetName(bad), bad).toThrow(/refusing/);
    }
    expect(datasetNameProblem(`tank/${'a'.repeat(MAX_DATASET_NAME)}`)).toMatch(/longer/);
  });

  it('maps ids that core accepts but zfs does not to ERR_INVALID_ID', () => {
    for (const id of ['-rf', 'with space', 'pct%', 'at@x', 'ünïcode', 'tab\tx', 'star*']) {
      expect(() => layerDatasetName('tank/gd', id), id).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId }));
      expect(isValidLayerId('tank/gd', id)).toBe(false);
    }
    expect(layerDatasetName('tank/gd', 'abc.1:2_3-4')).toBe('tank/gd/abc.1:2_3-4');
    expect(layerDatasetName('tank/gd', '.hidden')).toBe('tank/gd/.hidden');
  });

  it('leaves room for a snapshot suffix in a layer name', () => {
    const fsname = 'tank/gd';
    const longest = MAX_DATASET_NAME - SNAPSHOT_SUFFIX_LEN - fsname.length - 1;
    const name = layerDatasetName(fsname, 'a'.repeat(longest));
    expect(snapshotName(name).length).toBe(MAX_DATASET_NAME);
    expect(datasetNameProblem(snapshotName(name))).toBeUndefined();
    expect(() => layerDatasetName(fsname, 'a'.repeat(longest + 1))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidId }));
  });

  it('makes unique temporary and snapshot names', () => {
    const t = tempDatasetName('tank/gd');
    expect(t).toMatch(/^tank\/gd\/\.tmp-[0-9a-f]{16}$/);
    expect(tempDatasetName('tank/gd')).not.toBe(t);
    expect(snapshotName('tank/gd/x')).toMatch(/^tank\/gd\/x@gd-[0-9a-f]{12}$/);
    expect(leafName('tank/gd/x')).toBe('x');
    expect(leafName('tank')).toBe('tank');
  });
});
