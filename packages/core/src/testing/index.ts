/**
 * Test support: layers for users' own tests, and the conformance suite every
 * cache backend runs.
 *
 * @since 0.1.0
 */

/** The conformance suite for `CacheStore` implementations. */
export * as CacheStoreConformance from "./CacheStoreConformance.ts"

/** In-memory cache and fixed seed for tests. */
export * as TestLayers from "./TestLayers.ts"

/** Placeholder recipes for storing entries without a step or process. */
export * as TestRecipes from "./TestRecipes.ts"

/** The conformance suite for `CacheLease` implementations. */
export * as CacheLeaseConformance from "./CacheLeaseConformance.ts"

/** Large pseudo-random bytes, the same for the same seed. */
export * as TestBytes from "./TestBytes.ts"
