/**
 * The local backend of ExpOps: the cache on disk and the run history in SQLite.
 *
 * @since 0.1.0
 */

/** The cache index in SQLite: entry metadata for stats, listing and pruning. */
export * as CacheIndex from "./CacheIndex.ts"

/** The layer the CLI uses: cache store, cache maintenance and run store of a project. */
export * as LocalBackend from "./LocalBackend.ts"

/** Opening failures of the local backend. */
export * as LocalBackendError from "./LocalBackendError.ts"

/** Cache maintenance backed by the index. */
export * as LocalCacheAdmin from "./LocalCacheAdmin.ts"

/** Leases on the local file system: one computation per key among a machine's processes. */
export * as LocalCacheLease from "./LocalCacheLease.ts"

/** The `CacheStore` on the local file system. */
export * as LocalCacheStore from "./LocalCacheStore.ts"

/** The project's SQLite file. */
export * as SqliteDatabase from "./SqliteDatabase.ts"

/** The `RunStore` in SQLite. */
export * as SqliteRunStore from "./SqliteRunStore.ts"

/** The writes a run makes to the SQLite file, as plain functions (no `effect`). */
export * as SqliteRecords from "./SqliteRecords.ts"
