/**
 * What an executor runs for a job: one process of its plan, its upstream
 * outputs read from the shared cache by the keys the driver sent, its own
 * stored there, through `Process.execute` (so a key already stored is
 * served, not computed again). Never fails: a problem is a failed report.
 *
 * @since 0.1.0
 */
import { Cache, Metrics, Pipeline, Process, Reproducibility } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { Job, JobReply } from "./Runner.ts"

const failed = (job: Job, error: string): JobReply => ({
  _tag: "Report",
  report: { name: job.node, status: "failed", key: job.key, durationMs: 0, steps: [], error }
})

/**
 * Runs one job of a plan.
 *
 * @since 0.1.0
 */
export const run = Effect.fnUntraced(
  function*(plan: Pipeline.Plan<unknown>, data: Pipeline.ExecuteOptions["data"], job: Job) {
    const node = plan.nodes.get(job.node)
    if (node === undefined) return failed(job, `this runner's pipeline has no process ${job.node}`)
    const cache = yield* Cache.Cache
    const upstream = new Map<string, Readonly<Record<string, unknown>>>()
    for (const [name, key] of Object.entries(job.upstream)) {
      const from = plan.nodes.get(name)
      if (from === undefined) return failed(job, `this runner's pipeline has no process ${name}`)
      const hit = yield* cache.lookup(key, from.process.outputs)
      if (Option.isNone(hit)) {
        return failed(job, `the outputs of ${name} (key ${key.slice(0, 12)}) are not in the cache this runner uses: is it shared?`)
      }
      upstream.set(name, hit.value.value as Readonly<Record<string, unknown>>)
    }
    const context = Pipeline.contextOf(plan, job.node, upstream, data)
    if (Result.isFailure(context)) return failed(job, context.failure)
    const result = yield* Process.execute<never>(node.process, context.success).pipe(
      Effect.provideService(Reproducibility.RootSeed, job.rootSeed),
      // Without a collector metrics are not logged, so not stored with the entry the driver reads them from.
      Effect.provideService(Metrics.CurrentCollector, Metrics.makeCollector())
    )
    return { _tag: "Report", report: result.report } satisfies JobReply
  },
  // A cache that fails (its store unreachable, say) is a failed report too: of `job`, the third argument.
  (effect, ...[, , job]) => Effect.catch(effect, (error) => Effect.succeed<JobReply>(failed(job, `the cache: ${error.message}`)))
)
