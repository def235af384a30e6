// @graphdriver/core/testing: the driver conformance suite (filled in by its own module set).
export * from "./testing/loopback.js";
