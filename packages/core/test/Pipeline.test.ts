import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Random, Schema } from "effect"
import { TestClock } from "effect/testing"
import { CacheStore, Metrics, Pipeline, Process, RunEvents, Step } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { makeCounting } from "./fixtures/Counting.ts"

const Numbers = Schema.Array(Schema.Finite)
const source = (name: string, outputs: Process.Fields) =>
  Process.make({ name, outputs, run: () => Effect.succeed({} as any) })
const sink = (name: string, inputs: Process.Fields, parameters: Process.Fields = {}) =>
  Process.make({ name, inputs, parameters, outputs: {}, run: () => Effect.succeed({}) })

const problems = (pipeline: Pipeline.Pipeline<any>, options: Pipeline.RunOptions = {}) =>
  Effect.map(Effect.flip(Pipeline.plan(pipeline, options)), (error) => error.problems.map((p) => [p.code, p.processes]))

describe("Pipeline", () => {
  describe("validation", () => {
    it.effect("a cycle names its processes", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({
          name: "p",
          processes: [source("a", {}), sink("b", {}), sink("c", {})],
          edges: [["a", "b"], ["b", "c"], ["c", "b"]]
        })
        const error = yield* Effect.flip(Pipeline.plan(p))
        assert.deepStrictEqual(error.problems.map((x) => x.code), ["cycle"])
        assert.sameMembers([...error.problems[0]!.processes], ["b", "c"])
        assert.match(error.message, /processes form a cycle: (b -> c -> b|c -> b -> c)/)
      }))

    it.effect("an edge to an unknown process names it and lists the known ones", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({ name: "p", processes: [source("a", {})] })
        const error = yield* Effect.flip(Pipeline.plan(p, { adjlist: "a trian" }))
        assert.deepStrictEqual(error.problems.map((x) => [x.code, x.processes]), [["unknown-process", ["trian"]]])
        assert.match(error.message, /edge a -> trian names unknown process trian \(known: a\)/)
      }))

    it.effect("two upstream processes producing the same output key", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({
          name: "p",
          processes: [source("a", { rows: Numbers }), source("b", { rows: Numbers }), sink("c", { rows: Numbers })],
          edges: [["a", "c"], ["b", "c"]]
        })
        assert.deepStrictEqual(yield* problems(p), [["duplicate-output", ["a", "b", "c"]]])
      }))

    it.effect("an output key colliding with a parameter name", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({
          name: "p",
          processes: [source("a", { rate: Schema.Finite }), sink("b", {}, { rate: Schema.Finite })],
          edges: [["a", "b"]]
        })
        assert.deepStrictEqual(yield* problems(p, { parameters: { b: { rate: 1 } } }), [["output-parameter-collision", ["a", "b"]]])
      }))

    it.effect("a required input that nothing provides; an optional one is fine", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({
          name: "p",
          processes: [source("a", { rows: Numbers }), sink("b", { rows: Numbers, labels: Numbers, hint: Schema.optionalKey(Schema.String) })],
          edges: [["a", "b"]]
        })
        const error = yield* Effect.flip(Pipeline.plan(p))
        assert.deepStrictEqual(error.problems.map((x) => [x.code, x.processes]), [["missing-input", ["b"]]])
        assert.match(error.message, /process b needs input labels, which no upstream process produces \(upstream: a\)/)
      }))

    it.effect("invalid or unknown parameters name the process and the path", () =>
      Effect.gen(function*() {
        const { pipeline, adjlist } = makeCounting()
        const error = yield* Effect.flip(Pipeline.plan(pipeline, {
          adjlist,
          parameters: { load: { n: 1.5 }, prepare: { factor: 2, fator: 3 }, train: { rate: 1 }, trian: {} }
        }))
        const messages = error.problems.map((p) => p.message).join("\n")
        assert.match(messages, /parameters are given for unknown process trian/)
        assert.match(messages, /parameters of process load: Expected an integer at \["n"\]/)
        assert.match(messages, /parameters of process prepare: Expected no excess property at \["fator"\]/)
      }))

    it.effect("a problem with configured parameters names the process and the path inside them, as data", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({
          name: "p",
          processes: [source("a", {}), sink("b", {}, { search: Schema.Struct({ depth: Schema.Int }) })],
          edges: [["a", "b"], ["a", "c"]]
        })
        const error = yield* Effect.flip(Pipeline.plan(p, { parameters: { b: { search: { depth: 2.5 } }, z: {} } }))
        const located = error.problems.map((x) => [x.code, x.process, x.parameterPath])
        assert.deepStrictEqual(located, [
          // From the pipeline's own edges: no process entry of the config is at fault.
          ["unknown-process", undefined, undefined],
          ["unknown-process", "z", undefined],
          ["invalid-parameters", "b", ["search", "depth"]]
        ])
        assert.match(error.message, /parameters of process b: Expected an integer at \["search"\]\["depth"\]/)
      }))

    it.effect("a duplicate process name", () =>
      Effect.gen(function*() {
        const p = Pipeline.make({ name: "p", processes: [source("a", {}), source("a", {})] })
        assert.deepStrictEqual(yield* problems(p), [["duplicate-process", ["a"]]])
      }))
  })

  it("parses an adjacency list", () => {
    assert.deepStrictEqual(Pipeline.parseAdjlist("a b c\n# comment\n  b d # trailing\n\nlonely"), [["a", "b"], ["a", "c"], ["b", "d"]])
  })

  it.effect("runs in topological order and reports every process and step", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline } = makeCounting()
      const report = yield* Pipeline.run(pipeline, { adjlist, parameters })
      assert.strictEqual(report.run.status, "success")
      assert.strictEqual(report.run.seed, 42)
      assert.strictEqual(report.run.backend, "memory")
      assert.deepStrictEqual(report.processes.map((p) => p.name), ["load", "prepare", "train", "report"])
      assert.deepStrictEqual(report.processes[1]!.steps.map((s) => [s.name, s.status]), [["shuffle", "executed"], ["scale", "executed"]])
      for (const p of report.processes) assert.match(p.key, /^[0-9a-f]{64}$/)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("runs a plan it was given: the edges and parameters validated once, then each run of it", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline, runs } = makeCounting()
      const plan = yield* Pipeline.plan(pipeline, { adjlist, parameters })
      assert.deepStrictEqual(plan.order, ["load", "prepare", "train", "report"])
      const first = yield* Pipeline.runPlan(plan)
      assert.deepStrictEqual(first.processes.map((p) => p.status), ["executed", "executed", "executed", "executed"])
      // The same plan again: same keys, all served from the cache.
      const again = yield* Pipeline.runPlan(plan, { concurrency: 1 })
      assert.deepStrictEqual(again.processes.map((p) => [p.status, p.key]), first.processes.map((p) => ["cached", p.key]))
      assert.deepStrictEqual((yield* Pipeline.run(pipeline, { adjlist, parameters })).processes.map((p) => p.key), first.processes.map((p) => p.key))
      assert.strictEqual(runs["process:load"], 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  describe("seeds", () => {
    const noisy = Step.make({
      name: "noisy",
      input: Schema.Finite,
      output: Schema.Finite,
      run: function*(x) {
        return x + (yield* Random.next)
      }
    })
    const wrapper = Step.make({
      name: "wrapper",
      input: Schema.Finite,
      output: Schema.Finite,
      steps: [noisy],
      run: (x) => noisy(x)
    })
    /** Runs a one-process pipeline and answers what its body saw. */
    const observe = <A>(body: () => Effect.Effect<A, any, any>, version = "1") =>
      Effect.gen(function*() {
        let seen: A | undefined
        const p = Process.make({
          name: "p",
          version,
          outputs: {},
          steps: [noisy, wrapper],
          run: () => Effect.map(body(), (a) => (seen = a, {}))
        })
        yield* Pipeline.run(Pipeline.make({ name: "seeds", processes: [p] }))
        return seen!
      })

    it.effect("do not depend on what is cached: a cached nested call leaves later calls' seeds alone", () =>
      Effect.gen(function*() {
        const body = () => Effect.andThen(wrapper(0), noisy(1))
        const cold = yield* observe(body).pipe(Effect.provide(TestLayers.layer()))
        // Warm: `wrapper` is served from the cache, so its nested `noisy(0)` does not run.
        const warm = yield* Effect.gen(function*() {
          yield* observe(body, "1")
          return yield* observe(body, "2")
        }).pipe(Effect.provide(TestLayers.layer()))
        assert.strictEqual(warm, cold)
      }))

    it.effect("do not depend on the order in which concurrent calls start", () =>
      Effect.gen(function*() {
        const body = (concurrency: number | "unbounded") => () =>
          Effect.forEach([20, 0], (ms) => Effect.andThen(Effect.sleep(ms), noisy(ms)), { concurrency })
        // On the test clock: the 20 ms pass when the test moves it (the unbounded call starts the second first).
        const timed = <A, E, R>(run: Effect.Effect<A, E, R>) =>
          Effect.gen(function*() {
            const fiber = yield* Effect.forkChild(run)
            yield* TestClock.adjust("20 millis")
            return yield* Fiber.join(fiber)
          })
        const one = yield* timed(observe(body(1)).pipe(Effect.provide(TestLayers.layer())))
        const all = yield* timed(observe(body("unbounded")).pipe(Effect.provide(TestLayers.layer())))
        assert.deepStrictEqual(all, one)
      }))

    it.effect("differ between repeated identical calls, and between calls with different inputs", () =>
      Effect.gen(function*() {
        const draws = yield* observe(() => Effect.all([noisy(0), noisy(0), noisy(1)])).pipe(Effect.provide(TestLayers.layer()))
        assert.notStrictEqual(draws[0], draws[1])
        assert.notStrictEqual(draws[0], draws[2] - 1)
        const again = yield* observe(() => Effect.all([noisy(0), noisy(0), noisy(1)])).pipe(Effect.provide(TestLayers.layer()))
        assert.deepStrictEqual(again, draws)
      }))
  })

  it.effect("gives byte-identical outputs under concurrency 1 and 8 with the same seed", () =>
    Effect.gen(function*() {
      // Eight independent branches, each drawing random numbers in steps.
      const draw = Step.make({
        name: "draw",
        input: Schema.Int,
        output: Numbers,
        run: function*(n) {
          const out: Array<number> = []
          for (let i = 0; i < n; i++) out.push(yield* Random.next)
          yield* Effect.sleep(0)
          return out
        }
      })
      const branches = Array.from({ length: 8 }, (_, i) =>
        Process.make({
          name: `branch${i}`,
          outputs: { [`xs${i}`]: Numbers },
          captures: { i },
          steps: [draw],
          run: function*() {
            const a = yield* draw(3)
            const b = yield* draw(3)
            return { [`xs${i}`]: [...a, ...b] }
          }
        }))
      const pipeline = Pipeline.make({ name: "wide", processes: branches })
      const outputsOf = (concurrency: number) =>
        Effect.gen(function*() {
          const report = yield* Pipeline.run(pipeline, { concurrency })
          const store = yield* CacheStore.CacheStore
          const manifests = yield* store.listManifests
          return { keys: report.processes.map((p) => p.key), entries: manifests.map((m) => m.key).sort() }
        }).pipe(Effect.provide(TestLayers.layer({ seed: 7 })))
      const one = yield* outputsOf(1)
      const eight = yield* outputsOf(8)
      assert.deepStrictEqual(one, eight)
      assert.strictEqual(new Set(one.keys).size, 8)
    }))

  it.effect("a failed process marks its dependents skipped; other branches finish; nothing is stored for it", () =>
    Effect.gen(function*() {
      const ok = Process.make({ name: "ok", outputs: { x: Schema.Finite }, run: () => Effect.succeed({ x: 1 }) })
      const boom = Step.make({
        name: "boom",
        input: Schema.Finite,
        output: Schema.Finite,
        run: () => Effect.fail(new Error("disk on fire"))
      })
      const bad = Process.make({
        name: "bad",
        outputs: { y: Schema.Finite },
        steps: [boom],
        run: function*() {
          return { y: yield* boom(1) }
        }
      })
      const after = sink("after", { y: Schema.Finite })
      const pipeline = Pipeline.make({ name: "p", processes: [ok, bad, after], edges: [["bad", "after"]] })
      const report = yield* Pipeline.run(pipeline)
      assert.strictEqual(report.run.status, "failed")
      const byName = Object.fromEntries(report.processes.map((p) => [p.name, p]))
      assert.strictEqual(byName.ok!.status, "executed")
      assert.strictEqual(byName.bad!.status, "failed")
      assert.match(byName.bad!.error!, /disk on fire/)
      assert.deepStrictEqual(byName.bad!.steps.map((s) => [s.name, s.status]), [["boom", "failed"]])
      assert.strictEqual(byName.after!.status, "skipped")
      const store = yield* CacheStore.CacheStore
      // Only `ok` was stored.
      assert.deepStrictEqual((yield* store.listManifests).map((m) => m.key), [byName.ok!.key])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a dry run computes keys, runs nothing and stores nothing", () =>
    Effect.gen(function*() {
      const { adjlist, parameters, pipeline, runs } = makeCounting()
      const cold = yield* Pipeline.run(pipeline, { adjlist, parameters, dryRun: true })
      assert.deepStrictEqual(runs, {})
      assert.deepStrictEqual(cold.processes.map((p) => p.status), ["would-run", "would-run", "would-run", "would-run"])
      assert.match(cold.processes[1]!.reason!, /inputs come from load, which would run/)
      yield* Pipeline.run(pipeline, { adjlist, parameters })
      const warm = yield* Pipeline.run(pipeline, { adjlist, parameters: { ...parameters, train: { rate: 9 } }, dryRun: true })
      assert.deepStrictEqual(warm.processes.map((p) => p.status), ["cached", "cached", "would-run", "would-run"])
      assert.strictEqual(warm.run.dryRun, true)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("emits run events and collects metrics", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const metered = Step.make({
        name: "metered",
        input: Schema.Finite,
        output: Schema.Finite,
        run: function*(x) {
          yield* Metrics.logMetric("loss", 0.5)
          yield* Metrics.logMetric("loss", 0.25)
          yield* Metrics.logMetric("acc", 0.9, 10)
          return x
        }
      })
      const p = Process.make({
        name: "p",
        outputs: { x: Schema.Finite },
        steps: [metered],
        run: function*() {
          yield* Metrics.logMetric("loss", 1)
          return { x: yield* metered(1) }
        }
      })
      const report = yield* Pipeline.run(Pipeline.make({ name: "m", processes: [p] })).pipe(
        Effect.provide(RunEvents.layer((e) => Effect.sync(() => void events.push(`${e.kind}:${e.phase}:${e.step ?? e.process}`))))
      )
      assert.deepStrictEqual(events, [
        "process:start:p",
        "process:miss:p",
        "step:start:metered",
        "step:miss:metered",
        "step:store:metered",
        "process:store:p"
      ])
      assert.deepStrictEqual(report.metrics!.map((m) => [m.name, m.index, m.value, m.step ?? "-"]), [
        ["loss", 1, 1, "-"],
        ["loss", 1, 0.5, "metered"],
        ["loss", 2, 0.25, "metered"],
        ["acc", 10, 0.9, "metered"]
      ])
    }).pipe(Effect.provide(TestLayers.layer())))
})
