// The conformance suite on a loopback btrfs: copies are reflinks there.
import { describeConformance, useLoopbackFs } from '@graphdriver/core/testing';
import { vfsTarget } from './test-support/targets.js';

const lb = useLoopbackFs('btrfs', 'vfs conformance on btrfs');
if (lb) describeConformance(vfsTarget('vfs on a loopback btrfs', lb.mountpoint, { quota: 'unsupported' }));
