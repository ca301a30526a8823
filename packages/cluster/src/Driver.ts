/**
 * The driver's side of a cluster run: a client-only member of the cluster
 * that checks, before any work, that runners are there and serve the same
 * project on the same cache, then runs each process whose key misses on a
 * runner (`Pipeline.ExecuteOptions.execute`).
 *
 * A process is one persisted message to the entity of its cache key, with
 * that key as primary key: a key is computed once however many drivers ask,
 * and a driver that asks again (re-run after an interruption) joins the
 * running computation or gets its stored reply. The reply says what became of
 * the key; the outputs are read from the shared cache.
 *
 * @since 0.1.0
 */
import { Cache, Metrics, type Pipeline, Process, Reproducibility, RunEvents } from "@expops/core"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type * as Sharding from "effect/cluster/Sharding"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { CacheNotSharedError, NoRunnerError, ProjectMismatchError } from "./ClusterError.ts"
import * as ClusterSettings from "./ClusterSettings.ts"
import * as ClusterStorage from "./ClusterStorage.ts"
import { type ExecuteReply, type Fingerprints, ProcessEntity, workId } from "./ProcessEntity.ts"
import type { CacheIdentity } from "./ProjectIdentity.ts"

/**
 * The cluster services a driver needs: a client-only member, and the
 * PostgreSQL client (checked when built).
 *
 * @since 0.1.0
 */
export const layer = (target: ClusterStorage.Target): Layer.Layer<Sharding.Sharding | SqlClient.SqlClient, unknown> =>
  NodeClusterSocket.layer({ clientOnly: true, storage: "sql", shardingConfig: ClusterSettings.sharding }).pipe(
    Layer.provideMerge(ClusterStorage.layer(target))
  )

/**
 * @since 0.1.0
 */
export interface PreflightOptions {
  readonly target: ClusterStorage.Target
  readonly project: Fingerprints
  readonly cache: CacheIdentity
  /** How long to wait for a first runner. */
  readonly waitSeconds: number
  /** Finished messages older than this are deleted. */
  readonly keepRepliesHours: number
  /** The project folder as the user named it, for the message that says how to start a runner. */
  readonly dir: string
}

/**
 * Waits for live runners (up to `waitSeconds`), refuses runners of another
 * project or cache, and cleans up old messages. Answers the live runners.
 *
 * @since 0.1.0
 */
export const preflight = Effect.fnUntraced(function*(options: PreflightOptions) {
  const deadline = Date.now() + options.waitSeconds * 1000
  let runners = yield* ClusterStorage.liveRunners(ClusterSettings.runnerStaleSeconds)
  while (runners.length === 0) {
    if (Date.now() >= deadline) {
      return yield* new NoRunnerError({ url: ClusterStorage.display(options.target.url), waitedSeconds: options.waitSeconds, dir: options.dir })
    }
    yield* Effect.sleep(Duration.millis(250))
    runners = yield* ClusterStorage.liveRunners(ClusterSettings.runnerStaleSeconds)
  }
  for (const runner of runners) {
    if (runner.project.code !== options.project.code || runner.project.config !== options.project.config) {
      return yield* new ProjectMismatchError({ runner: runner.address, driver: options.project, runnerProject: runner.project })
    }
    if (runner.cache !== options.cache.id) {
      const reason = runner.cache.startsWith("gcs:") !== options.cache.id.startsWith("gcs:")
        ? "one uses a bucket, the other a local folder"
        : runner.cache.startsWith("gcs:")
        ? "they use different buckets or prefixes"
        : "their local cache folders are not the same folder (each has its own .expops/cluster-id)"
      return yield* new CacheNotSharedError({ runner: runner.address, driverCache: options.cache.display, runnerCache: runner.cacheDisplay, reason })
    }
  }
  yield* ClusterStorage.cleanUp(options.keepRepliesHours).pipe(Effect.ignore)
  return runners
})

/**
 * While a run lasts: says so on stderr when no runner is left (the run
 * waits, its messages stored, and resumes when one joins), and again when
 * one is back. Polls the registry every 2 s.
 *
 * @since 0.1.0
 */
export const watchRunners = Effect.fnUntraced(function*(options: { readonly dir: string; readonly url: string }) {
  let alone = false
  while (true) {
    yield* Effect.sleep(Duration.seconds(2))
    const live = yield* ClusterStorage.liveRunners(ClusterSettings.runnerStaleSeconds).pipe(Effect.orElseSucceed(() => undefined))
    if (live === undefined) continue
    if (live.length === 0 && !alone) {
      alone = true
      yield* Console.error(
        `warning: no cluster runner is left; the run waits for one (its processes are stored in the cluster). ` +
          `Start one with \`expops worker ${options.dir} --cluster ${ClusterStorage.display(options.url)}\``
      )
    } else if (live.length > 0 && alone) {
      alone = false
      yield* Console.error(`a cluster runner is back (${live.map((r) => r.address).join(", ")}): the run goes on`)
    }
  }
})

/**
 * A process that failed on a runner, with what the runner said.
 */
class RemoteFailure extends Schema.TaggedError<RemoteFailure>()("RemoteFailure", {
  message: Schema.String
}) {}

const now = () => performance.now()


/**
 * The `execute` of a cluster run: a process whose key is in the cache is
 * served here; the others are sent to the cluster. Needs the cluster
 * (`layer`) when made; the function it answers needs only the cache.
 *
 * @since 0.1.0
 */
export const makeExecute = Effect.fnUntraced(function*(project: Fingerprints) {
  const clientFor = yield* ProcessEntity.client
  // Without PostgreSQL (`TestRunner`) there is no stored message to forget.
  const sql = yield* Effect.serviceOption(SqlClient.SqlClient)
  const forget = (work: string) =>
    Option.isNone(sql) ? Effect.void : ClusterStorage.forget(work).pipe(Effect.provideService(SqlClient.SqlClient, sql.value), Effect.ignore)

  return Effect.fnUntraced(function*(request: Pipeline.ExecuteRequest): Effect.fn.Return<Process.Result, never, Cache.Cache> {
    const { context, node, upstreamKeys } = request
    const name = context.name ?? node.process.name
    const cache = yield* Cache.Cache
    const rootSeed = yield* Reproducibility.RootSeed
    const events = yield* RunEvents.RunEvents
    let reply: ExecuteReply | undefined
    let queuedMs: number | undefined

    const send = (key: string, seed: number) =>
      clientFor(workId(key, seed)).execute({ key, seed, node: node.name, rootSeed, upstream: upstreamKeys, project }).pipe(
        Effect.mapError((error) => new RemoteFailure({ message: `the cluster could not run it: ${error._tag}` }))
      )

    // `Process.execute` as usual (key, events, report), with a cache whose misses run on the cluster.
    const remote: Cache.Shape = {
      ...cache,
      memoize: Effect.fnUntraced(function*(options: Parameters<Cache.Shape["memoize"]>[0]): Effect.fn.Return<Cache.Outcome<any>, unknown> {
        // The seed may be given as the function that derives it (a step's): the cluster needs it anyway.
        const callSeed = typeof options.seed === "function" ? options.seed() : options.seed
        // As `Cache.memoize` looks up: through the variants of the key, for this call's seed.
        const hit = yield* cache.lookup(options.key, options.schema, callSeed)
        if (Option.isSome(hit)) return Cache.hitOutcome(hit.value)
        if (options.onMiss) yield* options.onMiss
        // The work is the key's computation for this seed. `Process.execute` always gives one;
        // a call without any would be computed under a seed nobody chose.
        if (callSeed === undefined) return yield* Effect.die(new Error(`cluster: the process with key ${options.key} was sent without a seed`))
        const seed = callSeed
        const work = workId(options.key, seed)
        for (let attempt = 0;; attempt++) {
          const sent = now()
          reply = yield* send(options.key, seed)
          queuedMs = Math.max(0, now() - sent - reply.runnerMs)
          if (reply.status === "refused") {
            yield* forget(work)
            const mismatch = new ProjectMismatchError({ runner: reply.runner, driver: project, runnerProject: reply.runnerProject ?? project })
            return yield* new RemoteFailure({ message: mismatch.message })
          }
          if (reply.status === "failed") {
            // A stored failure would be served to the next run: forget it, so that run tries again.
            yield* forget(work)
            return yield* new RemoteFailure({ message: reply.error ?? "failed on its runner" })
          }
          // The entry the runner stored: under the key, or a variant of it when the key's entry
          // holds no longer (a file it read changed, another seed), found as every lookup finds it.
          const stored = yield* cache.lookup(options.key, options.schema, callSeed)
          if (Option.isSome(stored)) {
            // The runner found it stored (another run computed it meanwhile): served, as a local run would say.
            if (reply.status === "cached") return Cache.hitOutcome(stored.value)
            const { manifest, value } = stored.value
            // Logged in this run, on the runner: the run's metrics, as a local run would have them.
            const collector = yield* Metrics.CurrentCollector
            if (collector !== undefined) collector.metrics.push(...(manifest.metrics ?? []))
            // Written by the runner, read here: the bytes that moved for it.
            return {
              value,
              cached: false,
              durationMs: reply.durationMs,
              savedMs: 0,
              metrics: manifest.metrics,
              bytes: manifest.size,
              key: manifest.key,
              trace: manifest.trace
            }
          }
          // A stored reply whose entry is gone from the cache (pruned since): forget it and ask again, once.
          yield* forget(work)
          if (attempt >= 1) {
            // A runner on another version of the project computes other keys (and its entries are not this driver's).
            const other = reply.key === options.key
              ? ""
              : ` (it reported key ${reply.key.slice(0, 12)}, this driver looks up ${options.key.slice(0, 12)}: if their projects differ, restart the workers on this version of the project)`
            return yield* new RemoteFailure({ message: `runner ${reply.runner} reported it stored, but the cache has no entry for its key${other}` })
          }
        }
      }) as any // its misses also fail with a `RemoteFailure`, which `Process.execute` reports like any failure
    }
    const started = now()
    const result = yield* Process.execute<never>(node.process, context).pipe(
      Effect.provideService(Cache.Cache, remote),
      // Its store and fail events say which runner ran it.
      Effect.provideService(RunEvents.RunEvents, {
        emit: (event) =>
          events.emit(
            reply !== undefined && event.kind === "process" && event.process === name && (event.phase === "store" || event.phase === "fail")
              ? { ...event, runner: reply.runner }
              : event
          )
      })
    )
    if (reply === undefined) return result
    const { durationMs: _, errorFields: _fields, errorTag: _tag, location: _location, stack: _stack, ...line } = result.report
    const fromRunner = reply.status === "failed"
      ? {
        ...(reply.error !== undefined ? { error: reply.error } : {}),
        ...(reply.location !== undefined ? { location: reply.location } : {}),
        ...(reply.stack !== undefined ? { stack: reply.stack } : {}),
        ...(reply.errorTag !== undefined ? { errorTag: reply.errorTag } : {}),
        ...(reply.errorFields !== undefined ? { errorFields: reply.errorFields } : {})
      }
      : {}
    return {
      outputs: result.outputs,
      report: {
        ...line,
        ...fromRunner,
        // The time it ran on its runner; the rest of the wait is `queuedMs`.
        durationMs: reply.status === "refused" ? now() - started : reply.durationMs,
        steps: reply.steps,
        runner: reply.runner,
        queuedMs: queuedMs ?? 0
      }
    }
  })
})
