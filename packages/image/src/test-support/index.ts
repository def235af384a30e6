// Test support for registry tests (not part of the package's public build): real registries,
// a fault-injecting proxy, storage tampering and skopeo-pushed test images.
export { startRegistry, type RunningRegistry, type StartRegistryOptions, type TestCredentials } from './registry.js';
export { startTokenServer, type TokenServer, type TokenRequest } from './token-server.js';
export { startFaultProxy, type FaultProxy, type FaultRule, type FaultAction, type ProxyRecord } from './fault-proxy.js';
export { blobDataPath, tamperBlob } from './storage.js';
export {
  buildTestLayout,
  pushTestLayout,
  skopeoDestFlags,
  noise,
  readAll,
  sha256,
  type TestImage,
  type TestLayout,
  type TestLayoutOptions,
} from './images.js';
export { skipWithout, REGISTRY_PROGRAMS, skopeo } from './tools.js';
