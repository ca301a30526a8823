import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Pipeline, Process, type RunReport } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { makeCounting } from "./fixtures/Counting.ts"

const statuses = (report: RunReport.RunReport) => Object.fromEntries(report.processes.map((p) => [p.name, p.status]))

describe("Process", () => {
  it.effect("a process hit runs none of its steps and reports no steps", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline, runs } = makeCounting()
      yield* Pipeline.run(pipeline, { adjlist, parameters })
      const before = { ...runs }
      const second = yield* Pipeline.run(pipeline, { adjlist, parameters })
      assert.deepStrictEqual(runs, before)
      assert.deepStrictEqual(statuses(second), { load: "cached", prepare: "cached", train: "cached", report: "cached" })
      for (const p of second.processes) assert.deepStrictEqual(p.steps, [])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a missed process with some cached steps runs only the uncached ones", () =>
    Effect.gen(function*() {
      const first = makeCounting()
      yield* Pipeline.run(first.pipeline, { adjlist: first.adjlist, parameters: first.parameters })
      // A new version of `train` misses at process level, but its step `fit`
      // has the same key as before, so it is served from the step cache.
      const second = makeCounting({ trainVersion: "2" })
      const report = yield* Pipeline.run(second.pipeline, { adjlist: second.adjlist, parameters: second.parameters })
      assert.strictEqual(second.runs["process:train"], 1)
      assert.strictEqual(second.runs["step:fit"], undefined)
      const train = report.processes.find((p) => p.name === "train")!
      assert.strictEqual(train.status, "executed")
      assert.deepStrictEqual(train.steps.map((s) => [s.name, s.status]), [["fit", "cached"]])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("is invalidated by a parameter change; downstream follows only if the output changed", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline, runs } = makeCounting()
      yield* Pipeline.run(pipeline, { adjlist, parameters })
      const report = yield* Pipeline.run(pipeline, { adjlist, parameters: { ...parameters, train: { rate: 0.25 } } })
      assert.deepStrictEqual(statuses(report), { load: "cached", prepare: "cached", train: "executed", report: "executed" })
      assert.strictEqual(runs["step:fit"], 2)
      assert.strictEqual(runs["step:shuffle"], 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("is invalidated by a change of its input (an upstream's new output)", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline, runs } = makeCounting()
      yield* Pipeline.run(pipeline, { adjlist, parameters })
      const report = yield* Pipeline.run(pipeline, { adjlist, parameters: { ...parameters, load: { n: 21 } } })
      assert.deepStrictEqual(statuses(report), { load: "executed", prepare: "executed", train: "executed", report: "executed" })
      assert.strictEqual(runs["step:generate"], 2)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("is invalidated by a change of its code", () =>
    Effect.gen(function*() {
      const first = makeCounting()
      yield* Pipeline.run(first.pipeline, { adjlist: first.adjlist, parameters: first.parameters })
      const second = makeCounting({ trainVersion: "2" })
      const report = yield* Pipeline.run(second.pipeline, { adjlist: second.adjlist, parameters: second.parameters })
      assert.deepStrictEqual(statuses(report), { load: "cached", prepare: "cached", train: "executed", report: "cached" })
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("is invalidated by a change of one of its steps' code; only that step re-runs", () =>
    Effect.gen(function*() {
      const first = makeCounting()
      yield* Pipeline.run(first.pipeline, { adjlist: first.adjlist, parameters: first.parameters })
      const second = makeCounting({ scaleEdit: "new-output" })
      const report = yield* Pipeline.run(second.pipeline, { adjlist: second.adjlist, parameters: second.parameters })
      assert.deepStrictEqual(statuses(report), { load: "cached", prepare: "executed", train: "executed", report: "executed" })
      assert.deepStrictEqual(second.runs, { "process:prepare": 1, "step:scale": 1, "process:train": 1, "step:fit": 1, "process:report": 1, "step:summarize": 1 })
      const prepare = report.processes.find((p) => p.name === "prepare")!
      assert.deepStrictEqual(prepare.steps.map((s) => [s.name, s.status]), [["shuffle", "cached"], ["scale", "executed"]])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("an edited step that returns the same output leaves downstream cached", () =>
    Effect.gen(function*() {
      const first = makeCounting()
      yield* Pipeline.run(first.pipeline, { adjlist: first.adjlist, parameters: first.parameters })
      const second = makeCounting({ scaleEdit: "same-output" })
      const report = yield* Pipeline.run(second.pipeline, { adjlist: second.adjlist, parameters: second.parameters })
      assert.deepStrictEqual(statuses(report), { load: "cached", prepare: "executed", train: "cached", report: "cached" })
      assert.deepStrictEqual(second.runs, { "process:prepare": 1, "step:scale": 1 })
    }).pipe(Effect.provide(TestLayers.layer())))

  it("a body reading a step that a factory made from its argument is a definition error naming it", () => {
    const makeSloppy = (edit: "none" | "same-output") => {
      const { steps } = makeCounting({ generateEdit: edit })
      return Process.make({
        name: "sloppy",
        outputs: { xs: Schema.Array(Schema.Finite) },
        run: function*() {
          return { xs: yield* steps.generate(3) }
        }
      })
    }
    assert.throws(() => makeSloppy("none"), /process sloppy \(\S*test\/Process\.test\.ts:\d+:\d+\): its body reads `steps` from an enclosing function/)
  })

  it.effect("is invalidated by a change of the data file", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline, runs } = makeCounting()
      const data = { path: "data/iris.csv", digest: "a".repeat(64) }
      yield* Pipeline.run(pipeline, { adjlist, parameters, data })
      const same = yield* Pipeline.run(pipeline, { adjlist, parameters, data })
      assert.isTrue(same.processes.every((p) => p.status === "cached"))
      const changed = yield* Pipeline.run(pipeline, { adjlist, parameters, data: { ...data, digest: "b".repeat(64) } })
      assert.strictEqual(changed.processes[0]!.status, "executed")
      // The process re-ran, but its steps' keys do not depend on the data file:
      // `generate` made the same output, served from the step cache.
      assert.strictEqual(runs["process:load"], 2)
      assert.strictEqual(runs["step:generate"], 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("early cut-off: an upstream that re-ran with identical output leaves downstream cached", () =>
    Effect.gen(function*() {
      const first = makeCounting()
      yield* Pipeline.run(first.pipeline, { adjlist: first.adjlist, parameters: first.parameters })
      // `load` now takes a different parameter path but returns the same rows.
      const second = makeCounting({ generateEdit: "same-output" })
      const report = yield* Pipeline.run(second.pipeline, {
        adjlist: second.adjlist,
        parameters: { ...second.parameters, load: { n: 99 } }
      })
      assert.deepStrictEqual(statuses(report), { load: "executed", prepare: "cached", train: "cached", report: "cached" })
      assert.strictEqual(second.runs["process:prepare"], undefined)
    }).pipe(Effect.provide(TestLayers.layer())))
})
