/**
 * Services of the user's own that bodies ask for: the pipeline's layer
 * provides them to every body; one that nothing provides is reported before
 * anything runs, naming the service, where it is declared, and what to do.
 */
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { CodeFingerprint, Pipeline, Process, Step } from "@expops/core"
import { TestLayers } from "@expops/core/testing"

const here = fileURLToPath(import.meta.url)
const lines = readFileSync(here, "utf8").split("\n")
const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1
const columnOf = (text: string) => lines[lineOf(text) - 1]!.indexOf(text) + 1
// Places are relative to the package, as they are to a project.
CodeFingerprint.configure({ root: Path.resolve(Path.dirname(here), "..") })

export class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("test/Greeter") {}
export class Unused extends Context.Service<Unused, { readonly n: number }>()("test/Unused") {}

/**
 * How many times the bodies ran. Bodies count through `tally`, tests read
 * through `timesRun`: a top-level statement touching `runs` itself would be
 * part of every body's code closure (it could change what they read).
 */
const runs = { greet: 0 }
const tally = () => void runs.greet++
const timesRun = () => runs.greet

const greet = Step.make({
  name: "greet",
  input: Schema.String,
  output: Schema.String,
  run: function*(name) {
    tally()
    const greeter = yield* Greeter
    return greeter.greet(name)
  }
})

const hello = Process.make({
  name: "hello",
  outputs: { text: Schema.String },
  run: function*() {
    return { text: yield* greet("world") }
  }
})

/** Provides the service to what it runs itself: nothing for a layer to do. */
const selfServed = Process.make({
  name: "self_served",
  outputs: { text: Schema.String },
  run: function*() {
    const text = yield* greet("me").pipe(Effect.provideService(Greeter, { greet: (n) => `hi ${n}` }))
    return { text }
  }
})

const GreeterLive = Layer.succeed(Greeter, { greet: (name) => `hello ${name}` })

class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { what: Schema.String }) {}
const Broken = Layer.effect(Greeter, Effect.fail(new Unavailable({ what: "the greeting service" })))

describe("Pipeline services", () => {
  it("a process's fingerprint lists the services of the user's code its closure asks for", () => {
    assert.deepStrictEqual(hello.services.map((s) => [s.key, s.name, s.line]), [["test/Greeter", "Greeter", lineOf("export class Greeter")]])
    assert.deepStrictEqual(selfServed.services, [])
  })

  it.effect("the pipeline's layer is provided to every body", () =>
    Effect.gen(function*() {
      const report = yield* Pipeline.run(Pipeline.make({ name: "greetings", processes: [hello], layer: GreeterLive }))
      assert.strictEqual(report.run.status, "success")
      assert.deepStrictEqual(report.processes.map((p) => p.status), ["executed"])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a service nothing provides is reported before anything runs, naming it, its declaration and what to do", () =>
    Effect.gen(function*() {
      const before = timesRun()
      const unprovided = Pipeline.make({ name: "greetings", processes: [hello] } as any) as Pipeline.Pipeline<never>
      const error = yield* Effect.flip(Pipeline.run(unprovided))
      assert.strictEqual(error._tag, "PipelineValidationError")
      if (error._tag !== "PipelineValidationError") return
      assert.deepStrictEqual(error.problems.map((p) => [p.code, p.processes]), [["missing-service", ["hello"]]])
      assert.include(error.message, `process hello needs the service test/Greeter (Greeter, test/Pipeline.services.test.ts:${lineOf("export class Greeter")}), which nothing provides`)
      assert.include(error.message, "give Pipeline.make a `layer` that provides it")
      assert.strictEqual(timesRun(), before, "nothing ran")
      // `plan` says so too, so a CLI can refuse before it opens a backend.
      const planned = yield* Effect.flip(Pipeline.plan(unprovided))
      assert.deepStrictEqual(planned.problems.map((p) => p.code), ["missing-service"])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a layer that leaves the service out is reported once it is built, before anything runs", () =>
    Effect.gen(function*() {
      const before = timesRun()
      const other = Pipeline.make({ name: "greetings", processes: [hello], layer: Layer.succeed(Unused, { n: 1 }) } as any) as Pipeline.Pipeline<never>
      const error = yield* Effect.flip(Pipeline.run(other))
      assert.match(error.message, /needs the service test\/Greeter .*which the pipeline's layer does not provide/)
      assert.strictEqual(timesRun(), before)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a service the caller provides needs no layer; a body that provides it itself neither", () =>
    Effect.gen(function*() {
      const unprovided = Pipeline.make({ name: "greetings", processes: [hello] } as any) as Pipeline.Pipeline<never>
      const report = yield* Pipeline.run(unprovided).pipe(Effect.provide(GreeterLive))
      assert.strictEqual(report.run.status, "success")
      const own = yield* Pipeline.run(Pipeline.make({ name: "own", processes: [selfServed] }))
      assert.strictEqual(own.run.status, "success")
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a layer that fails to build: a LayerError with the error, where it was raised, its tag's message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pipeline.run(Pipeline.make({ name: "greetings", processes: [hello], layer: Broken })))
      assert.strictEqual(error._tag, "LayerError")
      if (error._tag !== "LayerError") return
      assert.strictEqual(error.location, `test/Pipeline.services.test.ts:${lineOf("const Broken")}:${columnOf("new Unavailable")}`)
      assert.match(error.message, /^the layer providing the services of pipeline greetings failed to build: /)
    }).pipe(Effect.provide(TestLayers.layer())))
})
