// Crash safety, concurrency, hostile input and a full disk on overlay2 over ext4.
import { describeOverlayRobustness } from './suites/robustness.suite.js';

describeOverlayRobustness('ext4');
