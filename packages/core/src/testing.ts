/**
 * What driver packages need in their own tests (vitest is a peer dependency of this entry):
 * the conformance suite ({@link describeConformance}, Docker's graphtest re-created), the
 * robustness suites (crash safety, concurrency, hostile input, full stores), the tree
 * fixtures they are built from, loopback filesystems to run them on, and the reference tools
 * interop tests compare against.
 *
 * @module @graphdriver/core/testing
 */
export * from './testing/loopback.js';
export { describeRobustness, homesUnder, smallLoopbackHomes, useLoopbackFs, type TestFileLoopback } from './testing/suites.js';
export { requireBackingSystem, missingPrograms, underCi } from './testing/backing-system.js';
export { describeConformance, type ConformanceTarget } from './testing/conformance.js';
export {
  describeXfsQuota,
  hostHasXfsQuota,
  launchXfsQuotaSuite,
  type XfsQuotaLauncher,
  type XfsQuotaTarget,
} from './testing/xfs-quota.js';
export {
  buildTree,
  compareTrees,
  listTree,
  randomContent,
  removeTree,
  setTimesNs,
  snapshotTree,
  type CompareOptions,
  type SnapshotOptions,
  type EntrySpec,
  type EntryCommon,
  type NodeInfo,
  type NodeType,
  type Owner,
  type TreeSnapshot,
} from './testing/fixtures.js';
export { baseEntries, richEntries, type Identity } from './testing/fixture-trees.js';
export * from './testing/layer-helpers.js';
export { mountsUnder, assertNothingMountedUnder } from './testing/mounts.js';
export {
  describeCrashSafety,
  runCrashCampaign,
  campaignSettings,
  saveReport,
  type CrashTarget,
  type CampaignOptions,
  type CampaignReport,
} from './testing/crash.js';
export { layerTar, readTreeModel, type TreeModel } from './testing/crash-model.js';
export { describeConcurrency } from './testing/concurrency.js';
export { describeHostileInput, describeMalformedArguments, peakRssGrowth, type HostileTarget } from './testing/hostile.js';
export { hostileTars, DEFAULT_HOSTILE_CODES, type HostileTar, type HostileOutcome } from './testing/hostile-tars.js';
export { linksLeadingOut } from './testing/link-audit.js';
export { describeExhaustion, bigTar, type ExhaustionTarget } from './testing/exhaustion.js';
export { Rand, buildRandomTree, randomEdits } from './testing/random-tree.js';
export { blankWhiteoutTimes } from './testing/whiteout-times.js';
export {
  referencePeer,
  referenceCorpus,
  requireReference,
  missingReference,
  PEER_INSTALL_PATH,
  CORPUS_INSTALL_PATH,
  type ReferenceTool,
} from './testing/reference-tools.js';
export {
  runChildSuite,
  runChildSuiteAs,
  expectChildRunPassed,
  unprivilegedPrefix,
  workerStartTimedOut,
  tailOf,
  type ChildRun,
  type ChildSuiteOptions,
  type ChildSuiteAsOptions,
  type ChildRunExpectation,
  type UnprivilegedPrefix,
} from './testing/child-suite.js';
