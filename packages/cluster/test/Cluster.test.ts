import { assert, describe, it } from "@effect/vitest"
import { Cache, Pipeline, type RunReport } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { Driver, Executor, type ExecutorPool, type ProcessEntity, Runner } from "@expops/cluster"
import { Effect, Layer } from "effect"
import * as TestRunner from "effect/cluster/TestRunner"
import * as F from "./fixtures/Pipelines.ts"

const project: ProcessEntity.Fingerprints = { code: "c".repeat(64), config: "f".repeat(64) }

/** An in-process pool over the real job code: counts what its jobs computed. */
const makePool = (plan: Pipeline.Plan<unknown>, executed: Array<string>) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<Cache.Cache>()
    return {
      info: undefined,
      size: 2,
      run: (job) =>
        Executor.run(plan, undefined, job as Runner.Job).pipe(
          Effect.tap((reply) => Effect.sync(() => reply._tag === "Report" && reply.report.status === "executed" && executed.push(reply.report.key))),
          Effect.provideContext(context)
        )
    } satisfies ExecutorPool.Pool
  })

/** Runs `plan` as `expops run --cluster` does: each miss goes to the (test) cluster. */
const runOnCluster = (plan: Pipeline.Plan<never>, driver: ProcessEntity.Fingerprints = project) =>
  Effect.gen(function*() {
    const execute = yield* Driver.makeExecute(driver)
    return yield* Pipeline.runPlan(plan, { execute })
  })

const cluster = (plan: Pipeline.Plan<unknown>, executed: Array<string>, runnerProject = project) =>
  Layer.unwrap(Effect.map(makePool(plan, executed), (pool) => Runner.entityLayer({ runner: "test-runner:1", pool, project: runnerProject }))).pipe(
    Layer.provideMerge(TestRunner.layer)
  )

const byName = (report: RunReport.RunReport) => new Map(report.processes.map((p) => [p.name, p]))

describe("cluster (TestRunner)", () => {
  it.live("a run through the cluster has the keys, statuses and outputs of a local run, each process on a runner", () =>
    Effect.gen(function*() {
      const plan = (yield* Pipeline.plan(F.pipeline, { adjlist: F.adjlist, parameters: F.parameters })) as Pipeline.Plan<never>
      const local = yield* Pipeline.runPlan(plan as Pipeline.Plan<never>).pipe(Effect.provide(TestLayers.layer()))
      const executed: Array<string> = []
      const remote = yield* runOnCluster(plan).pipe(Effect.provide(cluster(plan, executed)))
      assert.strictEqual(remote.run.status, "success")
      assert.deepStrictEqual(remote.processes.map((p) => [p.name, p.key, p.status]), local.processes.map((p) => [p.name, p.key, p.status]))
      for (const p of remote.processes) {
        assert.strictEqual(p.runner, "test-runner:1", p.name)
        assert.isAtLeast(p.queuedMs!, 0)
      }
      // The steps and outputs are the runner's: the aggregation saw every partition's total.
      assert.sameMembers(executed, local.processes.map((p) => p.key))
      const cache = yield* Cache.Cache
      const summary = yield* cache.lookup(byName(remote).get("summarise")!.key, F.summarise.outputs)
      assert.deepStrictEqual(summary._tag === "Some" && summary.value.value, { sum: 45, parts: 3 })
      // Metrics logged on the runner are the run's, as in a local run (not marked as served from the cache).
      assert.deepStrictEqual(remote.metrics, local.metrics)
      assert.deepStrictEqual(remote.metrics?.map((m) => [m.name, m.value, m.cached]), [["sum", 45, undefined]])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.live("a second run is served by the driver: nothing is sent", () =>
    Effect.gen(function*() {
      const plan = (yield* Pipeline.plan(F.pipeline, { adjlist: F.adjlist, parameters: F.parameters })) as Pipeline.Plan<never>
      const executed: Array<string> = []
      yield* runOnCluster(plan).pipe(Effect.provide(cluster(plan, executed)))
      const first = executed.length
      const again = yield* runOnCluster(plan).pipe(Effect.provide(cluster(plan, executed)))
      assert.strictEqual(executed.length, first)
      assert.deepStrictEqual(new Set(again.processes.map((p) => p.status)), new Set(["cached"]))
      assert.isTrue(again.processes.every((p) => p.runner === undefined))
    }).pipe(Effect.provide(TestLayers.layer())))

  it.live("two drivers at once on a cold cache compute each key once", () =>
    Effect.gen(function*() {
      const plan = (yield* Pipeline.plan(F.pipeline, { adjlist: F.adjlist, parameters: F.parameters })) as Pipeline.Plan<never>
      const executed: Array<string> = []
      const [a, b] = yield* Effect.all([runOnCluster(plan), runOnCluster(plan)], { concurrency: 2 }).pipe(
        Effect.provide(cluster(plan, executed))
      )
      assert.strictEqual(a.run.status, "success")
      assert.strictEqual(b.run.status, "success")
      assert.strictEqual(executed.length, new Set(executed).size)
      assert.strictEqual(executed.length, plan.order.length)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.live("a runner whose project differs is refused, with both fingerprints", () =>
    Effect.gen(function*() {
      const plan = (yield* Pipeline.plan(F.pipeline, { adjlist: F.adjlist, parameters: F.parameters })) as Pipeline.Plan<never>
      const executed: Array<string> = []
      const other = { code: "d".repeat(64), config: project.config }
      const report = yield* runOnCluster(plan).pipe(Effect.provide(cluster(plan, executed, other)))
      assert.strictEqual(report.run.status, "failed")
      assert.deepStrictEqual(executed, [])
      const load = byName(report).get("load")!
      assert.strictEqual(load.status, "failed")
      assert.include(load.error, "dddddddddddd")
      assert.include(load.error, "cccccccccccc")
      assert.include(load.error, "code fingerprint")
    }).pipe(Effect.provide(TestLayers.layer())))

  it.live("a process failing on its runner fails the run with the runner's error; its dependents are skipped", () =>
    Effect.gen(function*() {
      const plan = (yield* Pipeline.plan(F.failing, { adjlist: `${F.adjlist}\nsummarise broken`, parameters: F.parameters })) as Pipeline.Plan<never>
      const executed: Array<string> = []
      const report = yield* runOnCluster(plan).pipe(Effect.provide(cluster(plan, executed)))
      assert.strictEqual(report.run.status, "failed")
      const broken = byName(report).get("broken")!
      assert.strictEqual(broken.status, "failed")
      assert.strictEqual(broken.error, "broken on purpose")
      assert.strictEqual(broken.runner, "test-runner:1")
      assert.strictEqual(byName(report).get("summarise")!.status, "executed")
    }).pipe(Effect.provide(TestLayers.layer())))
})
