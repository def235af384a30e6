// @graphdriver/image/testing: what the interop tests of this package and of the CLI share: a
// real multi-layer image built with umoci, typed skopeo/umoci wrappers, and tree snapshots to
// compare an unpacked image with one of our layers.
export { BUSYBOX, buildImageFixture, type ImageFixture } from './test-support/fixture.js';
export { skopeo, umoci, type SkopeoInspect } from './test-support/tools.js';
export { diffTrees, rootlessView, snapshotTree, type TreeEntry, type TreeOptions } from './test-support/tree.js';
// real registries for pull/push tests: docker-registry on loopback (plain, TLS, basic or token
// auth), a fault-injecting proxy, storage tampering, test images pushed with skopeo
export {
  startRegistry,
  startFaultProxy,
  blobDataPath,
  tamperBlob,
  buildTestLayout,
  pushTestLayout,
  skopeoDestFlags,
  skipWithout,
  type RunningRegistry,
  type TokenServer,
  type TokenRequest,
  type StartRegistryOptions,
  type TestCredentials,
  type FaultProxy,
  type FaultRule,
  type FaultAction,
  type ProxyRecord,
  type TestLayout,
  type TestImage,
  type TestLayoutOptions,
} from './test-support/index.js';
