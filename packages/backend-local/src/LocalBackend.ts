/**
 * The local backend in one layer: the cache store, its maintenance and the
 * run store of a project folder, sharing one SQLite connection.
 *
 * ```ts
 * const program = Pipeline.run(pipeline).pipe(
 *   Effect.provide(Cache.layer()),
 *   Effect.provide(LocalBackend.layer("path/to/project"))
 * )
 * ```
 *
 * Layout, under the project folder:
 *
 * ```
 * .expops/cache/manifests/ab/<key>     entries (write-once), until packed
 * .expops/cache/packs/<id>.pack        many entries' manifests in one file (see LocalCacheStore)
 * .expops/cache/blobs/cd/<sha256>      large binary parts, content-addressed
 * .expops/cache/quarantine/            entries that failed verification
 * .expops/cache/leases/<key>           keys being computed now, by which process (see LocalCacheLease)
 * .expops/expops.sqlite                cache index and run history (WAL)
 * ```
 *
 * @since 0.1.0
 */
import type { CacheAdmin, CacheLease, CacheStore, RunStore } from "@expops/core"
import * as Layer from "effect/Layer"
import * as CacheIndex from "./CacheIndex.ts"
import { projectPaths, type ProjectPaths } from "./internal/paths.ts"
import type { LocalBackendError } from "./LocalBackendError.ts"
import * as LocalCacheLease from "./LocalCacheLease.ts"
import * as LocalCacheAdmin from "./LocalCacheAdmin.ts"
import * as LocalCacheStore from "./LocalCacheStore.ts"
import * as SqliteDatabase from "./SqliteDatabase.ts"
import * as SqliteRunStore from "./SqliteRunStore.ts"

/**
 * Where the local backend keeps a project's data.
 *
 * @since 0.1.0
 */
export const paths: (projectDir: string) => ProjectPaths = projectPaths

/**
 * @since 0.1.0
 */
export type Services =
  | CacheStore.CacheStore
  | LocalCacheStore.LocalCacheStore
  | CacheAdmin.CacheAdmin
  | RunStore.RunStore
  | CacheLease.CacheLease

/**
 * @since 0.1.0
 */
export interface Options extends LocalCacheStore.Options, SqliteDatabase.Options {
  /** Timings of the leases processes computing the same key coordinate with (`cache.lease`). */
  readonly lease?: CacheLease.Settings | undefined
}

/**
 * The cache store, cache maintenance, leases and run store of `projectDir`. Fails
 * with a `LocalBackendError` naming the path when the cache folder cannot be
 * written or the SQLite file cannot be opened; nothing stored is touched.
 *
 * @since 0.1.0
 */
export const layer = (projectDir: string, options?: Options): Layer.Layer<Services, LocalBackendError> => {
  const where = paths(projectDir)
  const database = SqliteDatabase.layer(where.database, options)
  const index = Layer.provideMerge(CacheIndex.layer, database)
  const store = Layer.provideMerge(LocalCacheStore.layerWithIndex(where.cache, options), index)
  return Layer.mergeAll(
    Layer.provide(LocalCacheAdmin.layer, store),
    Layer.provide(SqliteRunStore.layer, database),
    LocalCacheLease.layer(where.cache, options?.lease),
    store
  ).pipe(Layer.provide(database))
}
