// The conformance suite on overlay over a loopback btrfs.
import { describeConformance, useLoopbackFs } from '@graphdriver/core/testing';
import { overlayTarget } from './test-support/targets.js';

const lb = useLoopbackFs('btrfs', 'overlay2 conformance on btrfs');
if (lb) describeConformance(overlayTarget('overlay2 on a loopback btrfs', lb.mountpoint));
