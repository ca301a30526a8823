import { assert, describe, it } from "@effect/vitest"
import type { Metrics, RunReport } from "@expops/core"
import { Effect, Exit } from "effect"
import * as Series from "../../../src/internal/plot/Series.ts"
import * as Ticks from "../../../src/internal/plot/Ticks.ts"

const report = (id: string, seed: number, metrics: ReadonlyArray<Metrics.Metric>): RunReport.RunReport => ({
  run: { id, pipeline: "p", status: "success", seed, backend: "local", startedAt: 0, durationMs: 1 },
  processes: [],
  metrics
})

const loss = (process: string, index: number, value: number, step?: string): Metrics.Metric => ({
  name: "loss",
  value,
  index,
  process,
  ...(step !== undefined ? { step } : {})
})

describe("plot series", () => {
  it.effect("one line per run; a run that logged the metric in several places (fan-out branches) has one per place, labelled by it", () =>
    Effect.gen(function*() {
      const a = report("A", 1, [loss("train_seed1", 2, 0.5, "fit"), loss("train_seed1", 1, 0.9, "fit"), loss("train_seed2", 1, 0.8, "fit"), loss("train_seed2", 2, 0.4, "fit")])
      const { series } = yield* Series.of([a], "loss")
      assert.deepStrictEqual(series, [
        { label: "A train_seed1/fit", points: [[1, 0.9], [2, 0.5]] },
        { label: "A train_seed2/fit", points: [[1, 0.8], [2, 0.4]] }
      ])
      // Runs with one place each and the same seed: the run id alone.
      const b = report("B", 1, [loss("train", 1, 1), loss("train", 2, 0.5)])
      const c = report("C", 1, [loss("train", 1, 2), loss("train", 2, 1), loss("train", 3, 0.5)])
      assert.deepStrictEqual((yield* Series.of([b, c], "loss")).series.map((s) => [s.label, s.points.length]), [["B", 2], ["C", 3]])
    }))

  it.effect("values that diverged (NaN, Infinity, null from JSON) are left out and counted", () =>
    Effect.gen(function*() {
      const e = report("E", 1, [loss("train", 1, 1), loss("train", 2, Number.NaN), loss("train", 3, null as unknown as number), loss("train", 4, 0.5)])
      const { nonFinite, series } = yield* Series.of([e], "loss")
      assert.strictEqual(nonFinite, 2)
      assert.deepStrictEqual(series[0]!.points, [[1, 1], [4, 0.5]])
      const none = yield* Effect.flip(Series.of([report("F", 1, [loss("train", 1, Number.NaN), loss("train", 2, Infinity)])], "loss"))
      assert.include(none.message, "metric loss has no finite value to draw (2 NaN or infinite)")
    }))

  it.effect("a metric a run lacks, or one logged once per run, is an error saying what there is", () =>
    Effect.gen(function*() {
      const b = report("B", 1, [loss("train", 1, 1), loss("train", 2, 0.5)])
      const d = report("D", 1, [{ name: "accuracy", value: 0.9, index: 1, process: "evaluate" }])
      const lacking = yield* Effect.exit(Series.of([b, d], "loss"))
      assert.isTrue(Exit.isFailure(lacking))
      assert.include(String(lacking), "run D has no metric loss; its metrics: accuracy (scalar)")
      const scalar = yield* Effect.flip(Series.of([d], "accuracy"))
      assert.include(scalar.message, "metric accuracy is a scalar (logged once: 0.9 in D)")
    }))
})

describe("plot ticks", () => {
  it("nice steps that cover the data, labelled with the decimals the step needs", () => {
    const y = Ticks.axis(0.0503, 0.0797, 6)
    assert.deepStrictEqual(y.ticks, [0.05, 0.055, 0.06, 0.065, 0.07, 0.075, 0.08])
    assert.deepStrictEqual(y.ticks.map((t) => Ticks.label(t, y.step)), ["0.050", "0.055", "0.060", "0.065", "0.070", "0.075", "0.080"])
    const x = Ticks.axis(1, 7, 10, { integers: true })
    assert.deepStrictEqual(x.ticks, [1, 2, 3, 4, 5, 6, 7])
    assert.deepStrictEqual(Ticks.axis(5, 5, 4).ticks.length > 1, true)
    assert.strictEqual(Ticks.label(2_000_000, 1_000_000), "2e+6")
  })
})
