/**
 * @since 0.1.0
 */

/** The whole GCS backend as one layer, with its startup check. */
export * as GcsBackend from "./GcsBackend.ts"

/** Leases in the bucket: one computation per key across machines. */
export * as GcsCacheLease from "./GcsCacheLease.ts"

/** The `CacheStore` port on a bucket. */
export * as GcsCacheStore from "./GcsCacheStore.ts"

/** A bucket, a path in it, and retried object operations. */
export * as GcsClient from "./GcsClient.ts"

/** Errors a user can act on. */
export * as GcsError from "./GcsError.ts"

/** Run records as JSON objects in the bucket. */
export * as GcsRunStore from "./GcsRunStore.ts"

/** A local store in front of a remote one. */
export * as TieredCacheStore from "./TieredCacheStore.ts"
