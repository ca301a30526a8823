/**
 * A cluster runner: joins the cluster (PostgreSQL storage, a socket other
 * runners and drivers reach it on), registers which project and cache it
 * serves, and runs each process message it is sent in its executor pool.
 *
 * @since 0.1.0
 */
import type { RunReport } from "@expops/core"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ClusterSettings from "./ClusterSettings.ts"
import * as ClusterStorage from "./ClusterStorage.ts"
import type * as ExecutorPool from "./ExecutorPool.ts"
import { type ExecuteReply, type Fingerprints, ProcessEntity } from "./ProcessEntity.ts"
import type { CacheIdentity } from "./ProjectIdentity.ts"

/**
 * What an executor is asked to run: a node of its plan, with the run's root
 * seed and where its upstream outputs are stored.
 *
 * @since 0.1.0
 */
export interface Job {
  readonly key: string
  readonly node: string
  readonly rootSeed: number
  readonly upstream: Readonly<Record<string, string>>
}

/**
 * What an executor answers: the process's report line (as `Process.execute`
 * makes it), or a defect of the executor itself.
 *
 * @since 0.1.0
 */
export type JobReply =
  | { readonly _tag: "Report"; readonly report: RunReport.ProcessReport }
  | { readonly _tag: "ExecutorDefect"; readonly message: string }

/**
 * @since 0.1.0
 */
export interface Options {
  readonly target: ClusterStorage.Target
  readonly host: string
  readonly port: number
  readonly pool: ExecutorPool.Pool
  readonly project: Fingerprints
  readonly cache: CacheIdentity
}

const now = () => performance.now()

/**
 * The handler of one message: refuses a driver whose project differs, else
 * runs the job in the pool and answers with its key and status.
 */
const handle = Effect.fnUntraced(function*(
  options: { readonly pool: ExecutorPool.Pool; readonly project: Fingerprints },
  runner: string,
  payload: {
    readonly key: string
    readonly seed: number
    readonly node: string
    readonly rootSeed: number
    readonly upstream: Readonly<Record<string, string>>
    readonly project: Fingerprints
  }
): Effect.fn.Return<ExecuteReply> {
  const started = now()
  const base = { key: payload.key, runner, steps: [] as ReadonlyArray<RunReport.StepReport> }
  if (payload.project.code !== options.project.code || payload.project.config !== options.project.config) {
    return { ...base, status: "refused", runnerMs: now() - started, durationMs: 0, runnerProject: options.project } as const
  }
  const job: Job = { key: payload.key, node: payload.node, rootSeed: payload.rootSeed, upstream: payload.upstream }
  // One line when a process starts and one when it ends: what an operator (and the integration test) reads.
  yield* Console.error(`runner ${runner}: ${payload.node} started (key ${payload.key.slice(0, 12)})`)
  const answer = yield* options.pool.run(job).pipe(
    Effect.tap((reply) => {
      const report = (reply as JobReply)._tag === "Report" ? (reply as Extract<JobReply, { _tag: "Report" }>).report : undefined
      return Console.error(
        // The key of the entry it stored or served: the asked key, or a variant of it (another seed, changed files).
        `runner ${runner}: ${payload.node} ${report?.status ?? "failed"} in ${Math.round(now() - started)} ms (key ${(report?.key ?? payload.key).slice(0, 12)})`
      )
    }),
    Effect.map((reply) => reply as JobReply),
    Effect.catch((error) => Effect.succeed<JobReply>({ _tag: "ExecutorDefect", message: error.message }))
  )
  if (answer._tag === "ExecutorDefect") {
    return { ...base, status: "failed", runnerMs: now() - started, durationMs: now() - started, error: answer.message } as const
  }
  const { report } = answer
  const status = report.status === "executed" || report.status === "cached" ? report.status : "failed"
  return {
    ...base,
    // The key the runner computed: the driver checks it is the one it asked for.
    key: report.key,
    status,
    runnerMs: now() - started,
    durationMs: report.durationMs,
    ...(report.savedMs !== undefined ? { savedMs: report.savedMs } : {}),
    steps: report.steps,
    ...(report.error !== undefined ? { error: report.error } : {}),
    ...(report.location !== undefined ? { location: report.location } : {}),
    ...(report.stack !== undefined ? { stack: report.stack } : {}),
    ...(report.errorTag !== undefined ? { errorTag: report.errorTag } : {}),
    ...(report.errorFields !== undefined ? { errorFields: report.errorFields } : {})
  } as const
})

/**
 * The entity's handlers on a runner, without its transport or storage:
 * `layer` adds those; tests run it on `TestRunner`.
 *
 * @since 0.1.0
 */
export const entityLayer = (options: {
  readonly runner: string
  readonly pool: ExecutorPool.Pool
  readonly project: Fingerprints
}) =>
  ProcessEntity.toLayer(
    ProcessEntity.of({ execute: ({ payload }) => handle(options, options.runner, payload) }),
    { maxIdleTime: ClusterSettings.sharding.entityMaxIdleTime }
  )

/**
 * The runner, as a layer: built, it has joined the cluster and serves until
 * its scope closes (then it stops taking work, gives its running processes
 * `ClusterSettings.drainSeconds` to finish, and leaves).
 *
 * @since 0.1.0
 */
export const layer = (options: Options) => {
  const runner = `${options.host}:${options.port}`
  const storage = ClusterStorage.layer(options.target)
  const cluster = NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      ...ClusterSettings.sharding,
      runnerAddress: Option.some(RunnerAddress.make(options.host, options.port))
    }
  })
  const entity = entityLayer({ runner, pool: options.pool, project: options.project })
  const registration = Layer.effectDiscard(ClusterStorage.register({
    address: runner,
    project: options.project,
    cache: options.cache.id,
    cacheDisplay: options.cache.display,
    concurrency: options.pool.size
  }))
  return Layer.mergeAll(entity.pipe(Layer.provide(cluster)), registration).pipe(Layer.provide(storage))
}
