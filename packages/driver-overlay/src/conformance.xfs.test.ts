// The conformance suite on overlay over a loopback xfs.
import { describeConformance, useLoopbackFs } from '@graphdriver/core/testing';
import { overlayTarget } from './test-support/targets.js';

const lb = useLoopbackFs('xfs', 'overlay2 conformance on xfs');
if (lb) describeConformance(overlayTarget('overlay2 on a loopback xfs', lb.mountpoint));
