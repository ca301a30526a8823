/**
 * What an executor process of a cluster runner does: loads the project once
 * (config, pipeline, plan, backend, the pipeline's services), then runs one
 * process of the plan per job, reading its upstream outputs from the shared
 * cache by their keys and storing its own there.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Executor, ProjectIdentity, type Runner } from "@expops/cluster"
import { Cache, Pipeline } from "@expops/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Backends from "../Backends.ts"
import * as Project from "../Project.ts"
import * as WorkingDirectory from "../WorkingDirectory.ts"

/**
 * Loads the project and answers what the runner registers (fingerprints,
 * cache identity) and the job handler. Its services live as long as the process.
 */
export const setup = Effect.fnUntraced(function*(dir: string, backendName: Backends.Name | undefined) {
  const scope = Scope.makeUnsafe()
  const project = yield* Project.load(dir)
  const { config } = project
  const data = yield* Project.dataFile(project)
  // User code reads its files relative to the project folder.
  process.chdir(project.dir)
  const { layer, pipeline } = yield* Project.importPipeline(project)
  const plan = yield* Pipeline.plan(pipeline, {
    adjlist: config.adjlist,
    parameters: config.parameters,
    fanout: config.fanout,
    maxBranches: config.maxBranches,
    layer
  })
  const backend = backendName ?? config.backend
  const services = yield* Layer.buildWithScope(
    Cache.layer({ mode: "read-write" }).pipe(Layer.provideMerge(Backends.layer(project, backend))),
    scope
  )
  // The pipeline's own services, built once for every job (as `runPlan` builds them once per run).
  const layers = [pipeline.layer, layer].filter((l, i, all): l is Layer.Layer<any, unknown, never> => l !== undefined && all.indexOf(l) === i)
  let context: Context.Context<any> = services
  for (const l of layers) context = Context.merge(context, yield* Layer.buildWithScope(l, scope))
  const info = {
    project: ProjectIdentity.fingerprints(plan, config, data),
    cache: ProjectIdentity.cacheIdentity(project.dir, backend, config.gcs)
  }
  const handle = (job: unknown): Promise<Runner.JobReply> =>
    Effect.runPromise(Executor.run(plan, data, job as Runner.Job).pipe(Effect.provideContext(context)) as Effect.Effect<Runner.JobReply>)
  return { info, handle }
}, Effect.provide(Layer.mergeAll(NodeServices.layer, WorkingDirectory.layer)))
