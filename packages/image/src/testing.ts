// @graphdriver/image/testing: what the interop tests of this package and of the CLI share: a
// real multi-layer image built with umoci, typed skopeo/umoci wrappers, and how an unpacked image
// is compared with one of our layers (core/testing's snapshotTree and compareTrees).
export { buildImageFixture, type ImageFixture } from './test-support/fixture.js';
export { skopeo, umoci, type SkopeoInspect } from './test-support/tools.js';
// an image layout written byte for byte (any layer tars, a hostile one say)
export { buildTestLayout, type TestImage, type TestLayout, type TestLayoutOptions } from './test-support/images.js';
export { ROOTLESS_UNPACKED, UNPACKED, umociTree } from './test-support/tree.js';
// a real registry for pull/push tests: docker-registry on loopback (plain, TLS, basic or token auth)
export {
  startRegistry,
  type RunningRegistry,
  type StartRegistryOptions,
  type TestCredentials,
  type TokenServer,
  type TokenRequest,
} from './test-support/index.js';
