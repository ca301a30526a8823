import { describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { type Cache, Pipeline, Process, Step } from "@expops/core"

class Clock2 extends Context.Service<Clock2, { readonly now: Effect.Effect<number> }>()("test/Clock2") {}
class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

const stamped = Step.make({
  name: "stamped",
  input: Schema.String,
  output: Schema.Struct({ at: Schema.Finite, text: Schema.String }),
  run: function*(text) {
    const clock = yield* Clock2
    if (text === "") return yield* new Boom()
    return { at: yield* clock.now, text }
  }
})

const plain = Step.make({
  name: "plain",
  input: Schema.Finite,
  output: Schema.Finite,
  config: Schema.Struct({ k: Schema.Finite }),
  run: (x, { k }) => Effect.succeed(x * k)
})

const proc = Process.make({
  name: "p",
  inputs: { text: Schema.String },
  parameters: { k: Schema.Finite },
  outputs: { at: Schema.Finite },
  run: function*({ text }, { k }) {
    const s = yield* stamped(text)
    return { at: s.at * k }
  }
})

describe("types", () => {
  it("infers a step's output, error and requirements from its body", () => {
    type E = Effect.Error<ReturnType<typeof stamped>>
    type R = Effect.Services<ReturnType<typeof stamped>>
    expectTypeOf<Effect.Success<ReturnType<typeof stamped>>>().toEqualTypeOf<{ readonly at: number; readonly text: string }>()
    expectTypeOf<Extract<E, Boom>>().toEqualTypeOf<Boom>()
    expectTypeOf<Extract<R, Clock2>>().toEqualTypeOf<Clock2>()
    expectTypeOf<Extract<R, Cache.Cache>>().toEqualTypeOf<Cache.Cache>()
  })

  it("requires the config argument only when the step has a config schema", () => {
    expectTypeOf(plain).parameter(1).toEqualTypeOf<{ readonly k: number }>()
    expectTypeOf(stamped).parameters.toEqualTypeOf<[input: string]>()
  })

  it("a pipeline whose processes need a service takes a layer that provides it, or does not type-check", () => {
    const layer = Layer.succeed(Clock2, { now: Effect.succeed(0) })
    const pipeline = Pipeline.make({ name: "t", processes: [proc], layer })
    // What is left for `run`'s caller: the cache.
    expectTypeOf(pipeline).toEqualTypeOf<Pipeline.Pipeline<Cache.Cache>>()
    // @ts-expect-error: processes need Clock2, and no layer provides it
    Pipeline.make({ name: "t", processes: [proc] })
    class Other extends Context.Service<Other, { readonly n: number }>()("test/Other") {}
    // @ts-expect-error: a layer, but not of Clock2
    Pipeline.make({ name: "t", processes: [proc], layer: Layer.succeed(Other, { n: 1 }) })
    // Processes needing nothing of the user's need no layer.
    expectTypeOf(Pipeline.make({ name: "t", processes: [] })).toEqualTypeOf<Pipeline.Pipeline<never>>()
  })
})
