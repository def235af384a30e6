// @graphdriver/core/testing: what driver packages need in their own tests. The conformance
// suite (Docker's graphtest re-created), the tree fixtures it is built from, and loopback
// filesystems to run it on.
export * from './testing/loopback.js';
export { requireBackingSystem, underCi } from './testing/backing-system.js';
export { describeConformance, type ConformanceTarget } from './testing/conformance.js';
export {
  buildTree,
  compareTrees,
  listTree,
  randomContent,
  removeTree,
  setTimesNs,
  snapshotTree,
  type CompareOptions,
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
  crashChildScript,
  campaignSettings,
  saveReport,
  type CrashTarget,
  type CampaignOptions,
  type CampaignReport,
} from './testing/crash.js';
export {
  rng,
  seededBytes,
  layerTar,
  tarActions,
  applyModel,
  readTreeModel,
  type TreeModel,
  type CrashOp,
  type ChildConfig,
  type TarAction,
} from './testing/crash-model.js';
export { FAULT_POINTS, type FaultPointName } from './store/fault-points.js';
export { runInChild } from './testing/crash.js';
export type { JournalLine } from './testing/crash-child.js';
export { describeConcurrency } from './testing/concurrency.js';
export { linksLeadingOut } from './testing/link-audit.js';
export { describeHostileInput, describeMalformedArguments, peakRssGrowth, type HostileTarget } from './testing/hostile.js';
export {
  hostileTars,
  everyKindTar,
  rawBlock,
  fixChecksum,
  paxEntry,
  paxRecord,
  entry as tarEntry,
  DEFAULT_HOSTILE_CODES,
  type HostileTar,
  type HostileOutcome,
  type RawFields,
} from './testing/hostile-tars.js';
export { runFuzz, fuzzSeeds, FUZZ_ALLOWED_CODES, type FuzzOptions, type FuzzReport, type FuzzFailure } from './testing/fuzz.js';
export { describeExhaustion, bigTar, type ExhaustionTarget } from './testing/exhaustion.js';
export { Rand, buildRandomTree, randomEdits, listEntries, type Entry as RandomTreeEntry } from './testing/random-tree.js';
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
