// Crash safety, concurrency, hostile input and a full disk on overlay2 over btrfs.
import { describeOverlayRobustness } from './test-support/robustness.js';

describeOverlayRobustness('btrfs');
