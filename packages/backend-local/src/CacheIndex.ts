/**
 * The cache index: one row per entry (key, kind, name, size, created, last
 * access) and the blobs it references, in the project's SQLite file. It
 * makes `stats`, `list` and `prune` cheap and gives pruning real
 * last-access times.
 *
 * The cache files stay the source of truth. The index is updated after
 * each write, so a process killed in between leaves it one entry short;
 * maintenance operations reconcile it with the files first, and
 * `verify --repair` rebuilds it from them.
 *
 * Reads are recorded in memory only (`touch`, a map insert) and written out
 * in one transaction every second and when the layer closes, so a cache hit
 * never waits on SQLite.
 *
 * @since 0.1.0
 */
import type { StatementSync } from "node:sqlite"
import { CacheAdmin, CacheStore, Manifest, type Recipe } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Sqlite from "./internal/sqlite.ts"
import { SqliteDatabase } from "./SqliteDatabase.ts"
import * as SqliteRecords from "./SqliteRecords.ts"

/**
 * @since 0.1.0
 */
export interface Shape {
  /** The database file, for messages. */
  readonly path: string
  /** Records a stored entry (replacing any row of the same key). Never fails: a failure is logged. */
  readonly record: (manifest: Manifest.Manifest) => Effect.Effect<void>
  /** Notes a read, to be written at the next flush. Synchronous and cheap: it runs on every hit. */
  readonly touch: (key: string) => void
  /** Forgets entries (deleted or quarantined). Never fails: a failure is logged. */
  readonly forget: (keys: ReadonlyArray<string>) => Effect.Effect<void>
  /** Writes the reads noted so far. */
  readonly flush: Effect.Effect<void, CacheStore.CacheStoreError>
  /** Entries, newest first. */
  readonly entries: (filter?: {
    readonly name?: string | undefined
    readonly kind?: Recipe.Kind | undefined
  }) => Effect.Effect<Array<CacheAdmin.EntrySummary>, CacheStore.CacheStoreError>
  readonly keys: Effect.Effect<Set<string>, CacheStore.CacheStoreError>
  /** `[key, digest]` for every blob reference. */
  readonly blobRefs: Effect.Effect<Array<readonly [string, string]>, CacheStore.CacheStoreError>
  /** Entries per kind and name, largest first. */
  readonly byName: Effect.Effect<CacheAdmin.Stats["byName"], CacheStore.CacheStoreError>
  /**
   * Makes the index hold exactly `manifests`: rows for other keys go, new
   * ones come in with `lastAccessAt = createdAt`, and existing rows keep
   * their last-access time.
   */
  readonly replaceAll: (manifests: ReadonlyArray<Manifest.Manifest>) => Effect.Effect<void, CacheStore.CacheStoreError>
  /** Adds rows for entries found on disk but missing from the index, and drops rows whose files are gone. */
  readonly reconcile: <E>(
    onDisk: ReadonlySet<string>,
    load: (key: string) => Effect.Effect<Manifest.Manifest | undefined, E>
  ) => Effect.Effect<void, CacheStore.CacheStoreError | E>
}

/**
 * @since 0.1.0
 */
export class CacheIndex extends Context.Service<CacheIndex, Shape>()("expops/backend-local/CacheIndex") {}

/** How often reads noted by `touch` are written. */
const FLUSH_EVERY = Duration.seconds(1)

/**
 * The index in the `SqliteDatabase` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const { db, path } = yield* SqliteDatabase
  const clock = yield* Clock.Clock

  const error = (operation: string, cause: unknown) =>
    new CacheStore.CacheStoreError({
      backend: "local",
      operation,
      location: path,
      reason: cause instanceof Error ? cause.message : String(cause),
      cause
    })

  const statements = new Map<string, StatementSync>()
  const sql = (text: string): StatementSync => {
    let statement = statements.get(text)
    if (statement === undefined) statements.set(text, statement = db.prepare(text))
    return statement
  }

  const transaction = <A>(body: () => A): A => Sqlite.transaction(db, body)

  const insert = (m: Manifest.Manifest, lastAccessAt: number) => {
    sql(`INSERT INTO cache_entries (key, kind, name, size, created_at, last_access_at, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, name = excluded.name, size = excluded.size,
           created_at = excluded.created_at, duration_ms = excluded.duration_ms,
           last_access_at = max(last_access_at, excluded.last_access_at)`)
      .run(m.key, m.recipe.kind, m.recipe.name, m.size, m.createdAt, lastAccessAt, m.durationMs)
    sql("DELETE FROM cache_entry_blobs WHERE key = ?").run(m.key)
    for (const ref of Manifest.referencedBlobs(m)) {
      sql("INSERT OR IGNORE INTO cache_entry_blobs (key, digest, size) VALUES (?, ?, ?)").run(m.key, ref.digest, ref.size)
    }
  }

  const remove = (key: string) => {
    sql("DELETE FROM cache_entries WHERE key = ?").run(key)
    sql("DELETE FROM cache_entry_blobs WHERE key = ?").run(key)
  }

  const attempt = <A>(operation: string, body: () => A) =>
    Effect.try({ try: body, catch: (cause) => error(operation, cause) })

  // The index is a convenience: failing to update it must not fail a run.
  const quietly = (operation: string, body: () => void) =>
    attempt(operation, body).pipe(
      Effect.catch((e) => Effect.logWarning(`${e.message}; \`expops cache verify --repair\` rebuilds the index`))
    )

  let pending = new Map<string, number>()

  const touch = (key: string) => void pending.set(key, clock.currentTimeMillisUnsafe())

  const flush = Effect.suspend(() => {
    if (pending.size === 0) return Effect.void
    const batch = pending
    pending = new Map()
    return attempt("record cache reads in the index", () =>
      SqliteRecords.recordReads(db, batch)).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            // Keep the reads for the next attempt, unless newer ones were noted meanwhile.
            for (const [key, at] of batch) if (!pending.has(key)) pending.set(key, at)
          })
        )
      )
  })

  yield* Effect.forkScoped(
    flush.pipe(
      Effect.catch((e) => Effect.logWarning(e.message)),
      Effect.repeat(Schedule.spaced(FLUSH_EVERY)),
      Effect.delay(FLUSH_EVERY)
    )
  )
  yield* Effect.addFinalizer(() => flush.pipe(Effect.catch((e) => Effect.logWarning(e.message))))

  const record: Shape["record"] = (manifest) =>
    quietly("record a cache entry in the index", () => transaction(() => insert(manifest, clock.currentTimeMillisUnsafe())))

  const forget: Shape["forget"] = (keys) =>
    keys.length === 0 ? Effect.void : quietly("remove cache entries from the index", () => transaction(() => keys.forEach(remove)))

  type Row = { key: string; kind: Recipe.Kind; name: string; size: number; created_at: number; last_access_at: number }
  const toSummary = (r: Row): CacheAdmin.EntrySummary => ({
    key: r.key,
    kind: r.kind,
    name: r.name,
    size: r.size,
    createdAt: r.created_at,
    lastAccessAt: r.last_access_at
  })

  const entries: Shape["entries"] = (filter) =>
    attempt("read the cache index", () => {
      const where: Array<string> = []
      const params: Array<string> = []
      if (filter?.name !== undefined) where.push("name = ?") && params.push(filter.name)
      if (filter?.kind !== undefined) where.push("kind = ?") && params.push(filter.kind)
      const rows = sql(
        `SELECT cache_entries.key AS key, kind, name, size, created_at, ${SqliteRecords.LAST_ACCESS} AS last_access_at
         FROM cache_entries ${SqliteRecords.LAST_READS_JOIN}
         ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, cache_entries.key`
      ).all(...params) as Array<Row>
      return rows.map(toSummary)
    })

  const keys = attempt("read the cache index", () =>
    new Set((sql("SELECT key FROM cache_entries").all() as Array<{ key: string }>).map((r) => r.key)))

  const blobRefs = attempt("read the cache index", () =>
    (sql("SELECT key, digest FROM cache_entry_blobs").all() as Array<{ key: string; digest: string }>).map(
      (r) => [r.key, r.digest] as const
    ))

  const byName = attempt("read the cache index", () =>
    (sql(
      `SELECT kind, name, count(*) AS entries, sum(size) AS bytes FROM cache_entries
       GROUP BY kind, name ORDER BY bytes DESC, name`
    ).all() as Array<{ kind: Recipe.Kind; name: string; entries: number; bytes: number }>).map((r) => ({
      kind: r.kind,
      name: r.name,
      entries: r.entries,
      bytes: r.bytes
    })))

  const replaceAll: Shape["replaceAll"] = (manifests) =>
    attempt("rebuild the cache index", () =>
      transaction(() => {
        // Rows that stay keep their last access, reads still in the log included.
        SqliteRecords.foldReadsIn(db)
        const wanted = new Set(manifests.map((m) => m.key))
        const existing = sql("SELECT key FROM cache_entries").all() as Array<{ key: string }>
        for (const { key } of existing) if (!wanted.has(key)) remove(key)
        sql("DELETE FROM cache_entry_blobs WHERE key NOT IN (SELECT key FROM cache_entries)").run()
        for (const m of manifests) insert(m, m.createdAt)
      }))

  const reconcile: Shape["reconcile"] = Effect.fnUntraced(function*(onDisk, load) {
    const indexed = yield* keys
    const stale = Array.from(indexed).filter((key) => !onDisk.has(key))
    const missing: Array<Manifest.Manifest> = []
    for (const key of onDisk) {
      if (indexed.has(key)) continue
      const manifest = yield* load(key)
      if (manifest !== undefined) missing.push(manifest)
    }
    if (stale.length === 0 && missing.length === 0) return
    yield* attempt("update the cache index", () =>
      transaction(() => {
        stale.forEach(remove)
        for (const m of missing) insert(m, m.createdAt)
      }))
  })

  return CacheIndex.of({ path, record, touch, forget, flush, entries, keys, blobRefs, byName, replaceAll, reconcile })
})

/**
 * @since 0.1.0
 */
export const layer: Layer.Layer<CacheIndex, never, SqliteDatabase> = Layer.effect(CacheIndex, make)
