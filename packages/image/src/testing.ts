// @graphdriver/image/testing: what the interop tests of this package and of the CLI share: a
// real multi-layer image built with umoci, typed skopeo/umoci wrappers, and tree snapshots to
// compare an unpacked image with one of our layers.
export { BUSYBOX, buildImageFixture, type ImageFixture } from './test-support/fixture.js';
export { skopeo, umoci, type SkopeoInspect } from './test-support/tools.js';
export { diffTrees, rootlessView, snapshotTree, type TreeEntry, type TreeOptions } from './test-support/tree.js';
