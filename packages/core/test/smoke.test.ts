import { assert, describe, it } from "@effect/vitest"
import { Effect, Random, Schema } from "effect"
import { Pipeline, Process, Step } from "@expops/core"
import { TestLayers } from "@expops/core/testing"

describe("smoke", () => {
  it.effect("runs a pipeline twice", () =>
    Effect.gen(function*() {
      let runs = 0
      const double = Step.make({
        name: "double",
        input: Schema.Array(Schema.Number),
        output: Schema.Array(Schema.Number),
        run: function*(xs) {
          runs++
          const r = yield* Random.next
          return xs.map((x) => x * 2 + r)
        }
      })
      const load = Process.make({
        name: "load",
        outputs: { xs: Schema.Array(Schema.Number) },
        run: function*() {
          return { xs: [1, 2, 3] }
        }
      })
      const work = Process.make({
        name: "work",
        inputs: { xs: Schema.Array(Schema.Number) },
        parameters: { k: Schema.Number },
        outputs: { ys: Schema.Array(Schema.Number) },
        run: function*({ xs }, { k }) {
          const ys = yield* double(xs.map((x) => x * k))
          return { ys }
        }
      })
      const p = Pipeline.make({ name: "p", processes: [load, work], edges: [["load", "work"]] })
      const r1 = yield* Pipeline.run(p, { parameters: { work: { k: 2 } } })
      const r2 = yield* Pipeline.run(p, { parameters: { work: { k: 2 } } })
      console.log(JSON.stringify(r1, null, 1), JSON.stringify(r2))
      assert.strictEqual(runs, 1)
    }).pipe(Effect.provide(TestLayers.layer())))
})
