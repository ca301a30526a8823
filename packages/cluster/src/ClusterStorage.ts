/**
 * The cluster's PostgreSQL: the client layer Effect Cluster stores its
 * messages and runners with, a check that it answers (so a wrong URL fails
 * before any work, naming host, port and user), the registry where runners
 * say which project and cache they serve, and the clean-up of old messages
 * (Effect Cluster never deletes them).
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Cause from "effect/Cause"
import * as Snowflake from "effect/cluster/Snowflake"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Exit from "effect/Exit"
import * as SqlClient from "effect/sql/SqlClient"
import { ClusterStorageError, ClusterStorageLostError, ClusterUrlError } from "./ClusterError.ts"
import type { Fingerprints } from "./ProcessEntity.ts"
import { entityType } from "./ProcessEntity.ts"

/**
 * A cluster URL, taken apart for messages.
 *
 * @since 0.1.0
 */
export interface Target {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
}

/**
 * Reads a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` URL.
 *
 * @since 0.1.0
 */
export const parse = (url: string): Effect.Effect<Target, ClusterUrlError> =>
  Effect.suspend(() => {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return Effect.fail(new ClusterUrlError({ url, reason: "not a URL" }))
    }
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
      return Effect.fail(new ClusterUrlError({ url, reason: `the scheme is ${parsed.protocol.replace(/:$/, "")}, not postgres` }))
    }
    if (parsed.hostname === "") return Effect.fail(new ClusterUrlError({ url, reason: "no host" }))
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""))
    return Effect.succeed({
      url,
      host: parsed.hostname,
      port: parsed.port === "" ? 5432 : Number(parsed.port),
      // As @effect/sql-pg resolves them: the user defaults to $USER, the database to the user's name (PostgreSQL's own default).
      user: parsed.username === "" ? process.env.USER ?? process.env.USERNAME ?? "" : decodeURIComponent(parsed.username),
      database: database === "" ? (parsed.username === "" ? process.env.USER ?? "" : decodeURIComponent(parsed.username)) : database
    })
  })

/** The URL without its password, for messages. */
export const display = (url: string): string => url.replace(/(\/\/[^:/@]+):[^@]*@/, "$1:***@")

const reasonOf = (error: unknown): string => {
  // The driver's own error (ECONNREFUSED, a PostgreSQL error message) is the most useful part.
  let current: any = error
  for (let i = 0; i < 5 && current?.cause !== undefined; i++) current = current.cause
  const text = current instanceof Error ? current.message : String(current)
  const code = current?.code !== undefined && !text.includes(current.code) ? ` (${current.code})` : ""
  return `${text === "" ? "connection failed" : text}${code}`
}

const registryTable = "expops_cluster_runners"

/** The runner registry, created with the cluster's other tables (`createTables`). */
const createRegistry = (sql: SqlClient.SqlClient) =>
  sql`CREATE TABLE IF NOT EXISTS ${sql(registryTable)} (
    address TEXT PRIMARY KEY,
    code_fingerprint TEXT NOT NULL,
    config_fingerprint TEXT NOT NULL,
    cache_identity TEXT NOT NULL,
    cache_display TEXT NOT NULL,
    concurrency INT NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
  )`

/**
 * Every table of a cluster, created when its client is built: Effect
 * Cluster's (before its storage is built, which would create them as it
 * starts) and the runner registry. Processes that start at once on a new
 * database race in that DDL, `CREATE TABLE IF NOT EXISTS` included: all but
 * one can fail (a duplicate `pg_type` row), and a worker would exit. Once
 * one has created them, the others find them there: so a failure is tried
 * again, a few times.
 */
const createTables = Effect.fnUntraced(function*(sql: SqlClient.SqlClient) {
  const migrations = Layer.mergeAll(SqlMessageStorage.layerMigrations({}), SqlRunnerStorage.layerMigrations({}))
  const create = Effect.andThen(
    Effect.scoped(Layer.build(migrations)).pipe(Effect.provideService(SqlClient.SqlClient, sql)),
    createRegistry(sql)
  )
  for (let attempt = 1;; attempt++) {
    // Effect Cluster's migrations die on failure: their cause, defects included, decides.
    const exit = yield* Effect.exit(create)
    if (Exit.isSuccess(exit)) return
    if (attempt >= 5) return yield* Effect.fail(Cause.squash(exit.cause))
    yield* Effect.sleep(Duration.millis(100 * attempt))
  }
})

/**
 * The PostgreSQL client of a cluster URL, checked with one query when it is
 * built: unreachable, refusing or a wrong database fails with a
 * `ClusterStorageError`.
 *
 * @since 0.1.0
 */
export const layer = (target: Target): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ClusterStorageError> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const context = yield* Layer.build(
        PgClient.layer({
          url: Redacted.make(target.url),
          connectTimeout: Duration.seconds(5),
          applicationName: "expops",
          // A few connections per process: Effect Cluster polls and locks through them.
          maxConnections: 8
        })
      )
      const sql = context.mapUnsafe.get(SqlClient.SqlClient.key) as SqlClient.SqlClient
      yield* sql`SELECT 1`.pipe(Effect.timeout(Duration.seconds(10)))
      yield* createTables(sql)
      return context
    }).pipe(
      Effect.mapError((error) =>
        new ClusterStorageError({
          host: target.host,
          port: target.port,
          user: target.user,
          database: target.database,
          reason: (error as { readonly _tag?: unknown })._tag === "TimeoutError" ? "no answer within 10 s" : reasonOf(error),
          cause: error
        })
      )
    )
  )

/**
 * Runs until PostgreSQL has not answered for `seconds` in a row, then fails
 * with a `ClusterStorageLostError`: a runner that cannot reach its storage
 * cannot hold shards, and Effect Cluster would otherwise retry (and log) for
 * ever. Asks every 2 s.
 *
 * @since 0.1.0
 */
export const watch = Effect.fnUntraced(function*(target: Target, seconds: number) {
  const sql = yield* SqlClient.SqlClient
  let failingSince: number | undefined
  while (true) {
    yield* Effect.sleep(Duration.seconds(2))
    const failure = yield* sql`SELECT 1`.pipe(
      Effect.timeout(Duration.seconds(5)),
      Effect.as(undefined),
      Effect.catch((error) =>
        Effect.succeed({ reason: error._tag === "TimeoutError" ? "no answer within 5 s" : reasonOf(error), cause: error })
      )
    )
    if (failure === undefined) {
      failingSince = undefined
      continue
    }
    failingSince ??= Date.now()
    if (Date.now() - failingSince >= seconds * 1000) {
      // The last failure, kept whole: the driver's errno and stack say more than its message.
      return yield* new ClusterStorageLostError({ host: target.host, port: target.port, seconds, ...failure })
    }
  }
})

/**
 * A runner as its registry row says: where it listens, which project and
 * cache it serves.
 *
 * @since 0.1.0
 */
export interface RunnerInfo {
  readonly address: string
  readonly project: Fingerprints
  readonly cache: string
  readonly cacheDisplay: string
  readonly concurrency: number
}


/**
 * Registers a runner until the scope closes, refreshing its row every
 * second so that drivers can tell a live runner from a lost one.
 *
 * @since 0.1.0
 */
export const register = Effect.fnUntraced(function*(
  info: RunnerInfo
): Effect.fn.Return<void, ClusterStorageError | unknown, SqlClient.SqlClient | Scope.Scope> {
  const sql = yield* SqlClient.SqlClient
  const upsert = sql`INSERT INTO ${sql(registryTable)}
      (address, code_fingerprint, config_fingerprint, cache_identity, cache_display, concurrency, last_seen)
    VALUES (${info.address}, ${info.project.code}, ${info.project.config}, ${info.cache}, ${info.cacheDisplay}, ${info.concurrency}, now())
    ON CONFLICT (address) DO UPDATE SET code_fingerprint = EXCLUDED.code_fingerprint,
      config_fingerprint = EXCLUDED.config_fingerprint, cache_identity = EXCLUDED.cache_identity,
      cache_display = EXCLUDED.cache_display, concurrency = EXCLUDED.concurrency, last_seen = now()`
  yield* upsert
  yield* Effect.forkScoped(
    Effect.repeat(Effect.ignore(Effect.delay(upsert, Duration.seconds(1))), { while: () => true })
  )
  yield* Effect.addFinalizer(() => Effect.ignore(sql`DELETE FROM ${sql(registryTable)} WHERE address = ${info.address}`))
})

/**
 * The runners that refreshed their registration within `staleSeconds`.
 *
 * @since 0.1.0
 */
export const liveRunners = Effect.fnUntraced(function*(staleSeconds: number) {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{
    address: string
    code_fingerprint: string
    config_fingerprint: string
    cache_identity: string
    cache_display: string
    concurrency: number
  }>`SELECT address, code_fingerprint, config_fingerprint, cache_identity, cache_display, concurrency
    FROM ${sql(registryTable)} WHERE last_seen > now() - make_interval(secs => ${staleSeconds}) ORDER BY address`
  return rows.map((row): RunnerInfo => ({
    address: row.address,
    project: { code: row.code_fingerprint, config: row.config_fingerprint },
    cache: row.cache_identity,
    cacheDisplay: row.cache_display,
    concurrency: row.concurrency
  }))
})

const messagesTable = "cluster_messages"
const repliesTable = "cluster_replies"

/**
 * Deletes a finished message of a key and its replies: a stored reply that
 * would be served again although the cache no longer holds what it says
 * (the entry was pruned), or a failure that must not be served to the
 * next run. A message still running is left alone.
 *
 * @since 0.1.0
 */
export const forget = Effect.fnUntraced(function*(work: string) {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(Effect.gen(function*() {
    const ids = sql`SELECT request_id FROM ${sql(messagesTable)}
      WHERE entity_type = ${entityType} AND entity_id = ${work} AND processed = TRUE`
    yield* sql`DELETE FROM ${sql(repliesTable)} WHERE request_id IN (${ids})`
    yield* sql`DELETE FROM ${sql(messagesTable)} WHERE request_id IN (${ids})`
  }))
})

/**
 * Deletes the finished process messages (and their replies) older than
 * `hours`: Effect Cluster keeps them forever. Their age is in their id, a
 * snowflake that starts with its creation time.
 *
 * @since 0.1.0
 */
export const cleanUp = Effect.fnUntraced(function*(hours: number) {
  const sql = yield* SqlClient.SqlClient
  const cutoff = Date.now() - hours * 3_600_000
  const cutoffId = (BigInt(Math.max(0, cutoff - Snowflake.constEpochMillis)) << 22n).toString()
  return yield* sql.withTransaction(Effect.gen(function*() {
    const ids = sql`SELECT request_id FROM ${sql(messagesTable)}
      WHERE entity_type = ${entityType} AND processed = TRUE AND id < ${cutoffId}::bigint`
    yield* sql`DELETE FROM ${sql(repliesTable)} WHERE request_id IN (${ids})`
    const deleted = yield* sql<{ n: number }>`WITH d AS (DELETE FROM ${sql(messagesTable)} WHERE request_id IN (${ids}) RETURNING 1)
      SELECT count(*)::int AS n FROM d`
    return deleted[0]?.n ?? 0
  }))
},
  // Before the first runner created the tables there is nothing to clean.
  Effect.catchTag("SqlError", () => Effect.succeed(0)))
