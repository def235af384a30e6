// Crash safety, concurrency, hostile input and a full disk on overlay2 over ext4.
import { describeOverlayRobustness } from './test-support/robustness.js';

describeOverlayRobustness('ext4');
