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
 * .expops/cache/manifests/ab/<key>     entries (write-once)
 * .expops/cache/blobs/cd/<sha256>      large binary parts, content-addressed
 * .expops/cache/quarantine/            entries that failed verification
 * .expops/expops.sqlite                cache index and run history (WAL)
 * ```
 *
 * @since 0.1.0
 */
import type { CacheAdmin, CacheStore, RunStore } from "@expops/core"
import * as Layer from "effect/Layer"
import * as CacheIndex from "./CacheIndex.ts"
import { projectPaths, type ProjectPaths } from "./internal/paths.ts"
import type { LocalBackendError } from "./LocalBackendError.ts"
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
export type Services = CacheStore.CacheStore | LocalCacheStore.LocalCacheStore | CacheAdmin.CacheAdmin | RunStore.RunStore

/**
 * The cache store, cache maintenance and run store of `projectDir`. Fails
 * with a `LocalBackendError` naming the path when the cache folder cannot be
 * written or the SQLite file cannot be opened; nothing stored is touched.
 *
 * @since 0.1.0
 */
export const layer = (projectDir: string, options?: LocalCacheStore.Options & SqliteDatabase.Options): Layer.Layer<Services, LocalBackendError> => {
  const where = paths(projectDir)
  const database = SqliteDatabase.layer(where.database, options)
  const index = Layer.provideMerge(CacheIndex.layer, database)
  const store = Layer.provideMerge(LocalCacheStore.layerWithIndex(where.cache, options), index)
  return Layer.mergeAll(
    Layer.provide(LocalCacheAdmin.layer, store),
    Layer.provide(SqliteRunStore.layer, database),
    store
  ).pipe(Layer.provide(database))
}
