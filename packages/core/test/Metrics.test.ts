import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Metrics, Pipeline, Process, Step } from "@expops/core"
import { TestLayers } from "@expops/core/testing"

const fit = Step.make({
  name: "fit",
  input: Schema.Finite,
  output: Schema.Finite,
  run: function*(epochs) {
    for (let epoch = 1; epoch <= epochs; epoch++) yield* Metrics.logMetric("loss", 1 / epoch)
    return epochs
  }
})

const trainOptions = {
  name: "train",
  parameters: { epochs: Schema.Finite },
  outputs: { epochs: Schema.Finite },
  steps: [fit],
  run: function*(_: {}, { epochs }: { readonly epochs: number }) {
    yield* Metrics.logMetric("runs", 1)
    return { epochs: yield* fit(epochs) }
  }
}

const train = Process.make(trainOptions)

const pipeline = Pipeline.make({ name: "metrics", processes: [train] })

const indices = (metrics: ReadonlyArray<Metrics.Metric>) => metrics.map((m) => `${m.step ?? m.process}:${m.name}@${m.index}`)

describe("Metrics", () => {
  it.effect("two runs in one process each collect their own metrics, numbered from 1", () =>
    Effect.gen(function*() {
      const first = yield* Pipeline.run(pipeline, { parameters: { train: { epochs: 2 } } })
      const second = yield* Pipeline.run(pipeline, { parameters: { train: { epochs: 3 } } })
      assert.deepStrictEqual(indices(first.metrics ?? []), ["train:runs@1", "fit:loss@1", "fit:loss@2"])
      assert.deepStrictEqual(indices(second.metrics ?? []), ["train:runs@1", "fit:loss@1", "fit:loss@2", "fit:loss@3"])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("metrics travel with the entries: a run served from the cache has them, marked cached", () =>
    Effect.gen(function*() {
      const options = { parameters: { train: { epochs: 2 } } }
      const cold = yield* Pipeline.run(pipeline, options)
      // The process is served whole: its own metric and its step's come with its entry.
      const warm = yield* Pipeline.run(pipeline, options)
      assert.deepStrictEqual(warm.processes.map((p) => p.status), ["cached"])
      assert.deepStrictEqual(warm.metrics, cold.metrics!.map((m) => ({ ...m, cached: true })))
      // The process runs again (a new version), its step is served: the step's metrics come with the step's entry.
      const versioned = Pipeline.make({ name: "metrics", processes: [Process.make({ ...trainOptions, version: "2" })] })
      const again = yield* Pipeline.run(versioned, options)
      assert.deepStrictEqual(again.processes[0]!.steps.map((s) => s.status), ["cached"])
      assert.deepStrictEqual(indices(again.metrics ?? []), ["train:runs@1", "fit:loss@1", "fit:loss@2"])
      assert.deepStrictEqual(again.metrics!.map((m) => m.cached === true), [false, true, true])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("collect gives a step run outside a pipeline its own collector", () =>
    Effect.gen(function*() {
      const [a, first] = yield* Metrics.collect(fit(2))
      const [, second] = yield* Metrics.collect(fit(1))
      assert.strictEqual(a, 2)
      assert.deepStrictEqual(indices(first), ["fit:loss@1", "fit:loss@2"])
      assert.deepStrictEqual(indices(second), ["fit:loss@1"])
    }).pipe(Effect.provide(TestLayers.layer())))

  it("outside any run a metric is dropped: nothing is kept for the next run to inherit", () => {
    const layer = TestLayers.layer()
    Effect.runSync(fit(2).pipe(Effect.provide(layer)))
    Effect.runSync(Metrics.logMetric("loss", 0.5))
    // A fresh program, as a second run in the same process would be.
    assert.isUndefined(Effect.runSync(Metrics.CurrentCollector))
  })
})
