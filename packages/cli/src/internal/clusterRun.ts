/**
 * `expops run --cluster URL`: what a run needs to send its processes to the
 * cluster. Loaded only for cluster runs, so that `expops run` does not pay
 * for Effect Cluster's modules otherwise.
 */
import { ClusterStorage, Driver, ProjectIdentity } from "@expops/cluster"
import type { Pipeline, Process, ProjectConfig } from "@expops/core"
import type { Cache } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { UsageError } from "../Errors.ts"
import type * as Project from "../Project.ts"

/** How long a run waits for a first runner, unless `cluster.runner_wait_seconds` says otherwise. */
const DEFAULT_WAIT_SECONDS = 30
/** Finished messages kept this long, unless `cluster.keep_replies_hours` says otherwise. */
const DEFAULT_KEEP_HOURS = 24

/**
 * Joins the cluster as a client, checks the runners (there, same project,
 * same cache) and answers the `execute` of the run and how many processes
 * the runners can take at once. The connection lasts as long as the scope.
 */
export const connect = Effect.fnUntraced(function*(input: {
  readonly project: Project.Project
  readonly dirArgument: string
  readonly url: string
  readonly plan: Pipeline.Plan<unknown>
  readonly data: { readonly path: string; readonly digest: string } | undefined
  readonly backend: "local" | "gcs"
  readonly noCache: boolean
}) {
  if (input.noCache) {
    return yield* new UsageError({
      message: "--no-cache cannot be used with a cluster run: its results travel between runners and this driver through the cache"
    })
  }
  const config: ProjectConfig.ProjectConfig = input.project.config
  const target = yield* ClusterStorage.parse(input.url)
  const context = yield* Layer.build(Driver.layer(target))
  const project = ProjectIdentity.fingerprints(input.plan, config, input.data)
  const runners = yield* Driver.preflight({
    target,
    project,
    cache: ProjectIdentity.cacheIdentity(input.project.dir, input.backend, config.gcs),
    waitSeconds: config.cluster?.runnerWaitSeconds ?? DEFAULT_WAIT_SECONDS,
    keepRepliesHours: config.cluster?.keepRepliesHours ?? DEFAULT_KEEP_HOURS,
    dir: input.dirArgument
  }).pipe(Effect.provideContext(context))
  const execute = yield* Driver.makeExecute(project).pipe(Effect.provideContext(context))
  yield* Effect.forkScoped(Driver.watchRunners({ dir: input.dirArgument, url: input.url }).pipe(Effect.provideContext(context)))
  return {
    execute: execute as (request: Pipeline.ExecuteRequest) => Effect.Effect<Process.Result, never, Cache.Cache>,
    /** All the runners' executors busy at once (one process per executor). */
    concurrency: runners.reduce((sum, runner) => sum + runner.concurrency, 0),
    runners: runners.length
  }
})
