import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Fanout, Pipeline, Process, type RunReport } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import * as F from "./fixtures/Fanout.ts"

const byName = (report: RunReport.RunReport) => Object.fromEntries(report.processes.map((p) => [p.name, p]))
const statuses = (report: RunReport.RunReport) => Object.fromEntries(report.processes.map((p) => [p.name, p.status]))
const modelOf = (report: RunReport.RunReport, process: string) => report.metrics!.find((m) => m.process === process && m.name === "model")!.value

const seeds = (list: ReadonlyArray<number>, extra: Pipeline.RunOptions = {}): Pipeline.RunOptions => ({
  adjlist: F.adjlist,
  parameters: { load: { rows: F.rows(6) } },
  fanout: { prepare: { seed: { seeds: list } }, summarise: { seed: { aggregation: true } } },
  ...extra
})

const problems = (pipeline: Pipeline.Pipeline<any>, options: Pipeline.RunOptions) =>
  Effect.map(Effect.flip(Pipeline.plan(pipeline, options)), (e) => e.problems)

describe("Fanout", () => {
  describe("seed parallelism", () => {
    it.effect("3 seeds: 3 branches of everything downstream, with different models, reproducible", () =>
      Effect.gen(function*() {
        const pipeline = F.make(F.summariseSeeds)
        const report = yield* Pipeline.run(pipeline, seeds([41, 42, 43])).pipe(Effect.provide(TestLayers.layer()))
        assert.deepStrictEqual(report.processes.map((p) => p.name), [
          "load",
          "prepare",
          "train_seed41",
          "train_seed42",
          "train_seed43",
          "evaluate_seed41",
          "evaluate_seed42",
          "evaluate_seed43",
          "summarise"
        ])
        assert.isTrue(report.processes.every((p) => p.status === "executed"))
        const trains = report.processes.filter((p) => p.base === "train")
        assert.strictEqual(new Set(trains.map((p) => p.key)).size, 3)
        const models = trains.map((p) => modelOf(report, p.name))
        assert.strictEqual(new Set(models).size, 3, "each seed draws its own stream")
        // The aggregation received each branch's output, keyed by seed, and the broadcast label once.
        assert.deepStrictEqual(Object.keys(F.received.score as object), ["seed41", "seed42", "seed43"])
        assert.strictEqual(F.received.label, "numbers")

        // Again, from an empty cache: the same keys and the same models.
        const again = yield* Pipeline.run(pipeline, seeds([41, 42, 43])).pipe(Effect.provide(TestLayers.layer()))
        assert.deepStrictEqual(again.processes.map((p) => p.key), report.processes.map((p) => p.key))
        assert.deepStrictEqual(again.processes.filter((p) => p.base === "train").map((p) => modelOf(again, p.name)), models)
      }))

    it.effect("a branch's seed is its root seed: train_seed41 is train run with --seed 41", () =>
      Effect.gen(function*() {
        const fanned = yield* Pipeline.run(F.make(F.summariseSeeds), seeds([41, 42])).pipe(Effect.provide(TestLayers.layer()))
        const plain = Pipeline.make({ name: "fan", processes: [F.load, F.prepare, F.train] })
        const alone = yield* Pipeline.run(plain, { adjlist: "load prepare\nprepare train", parameters: { load: { rows: F.rows(6) } } }).pipe(
          Effect.provide(TestLayers.layer({ seed: 41 }))
        )
        assert.strictEqual(byName(fanned).train_seed41!.key, byName(alone).train!.key)
        assert.strictEqual(modelOf(fanned, "train_seed41"), modelOf(alone, "train"))
      }))

    it.effect("a 4th seed runs only its branch (and the aggregation); the others are served from the cache", () =>
      Effect.gen(function*() {
        const pipeline = F.make(F.summariseSeeds)
        const three = yield* Pipeline.run(pipeline, seeds([41, 42, 43]))
        const four = yield* Pipeline.run(pipeline, seeds([41, 42, 43, 44]))
        const s = statuses(four)
        assert.deepStrictEqual(s, {
          load: "cached",
          prepare: "cached",
          train_seed41: "cached",
          train_seed42: "cached",
          train_seed43: "cached",
          train_seed44: "executed",
          evaluate_seed41: "cached",
          evaluate_seed42: "cached",
          evaluate_seed43: "cached",
          evaluate_seed44: "executed",
          summarise: "executed"
        })
        // Adding a seed leaves the other branches' keys unchanged.
        for (const p of three.processes.filter((p) => p.branch !== undefined)) assert.strictEqual(byName(four)[p.name]!.key, p.key)
        assert.deepStrictEqual(Object.keys(F.received.score as object), ["seed41", "seed42", "seed43", "seed44"])
        // The aggregation is an ordinary process: unchanged branch inputs, a hit.
        assert.strictEqual(statuses(yield* Pipeline.run(pipeline, seeds([41, 42, 43, 44]))).summarise, "cached")
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("a single integer is one seed; branches carry base and branch in the report", () =>
      Effect.gen(function*() {
        const report = yield* Pipeline.run(F.make(F.summariseSeeds), {
          ...seeds([]),
          fanout: { prepare: { seed: { seeds: 7 } }, summarise: { seed: { aggregation: true } } }
        })
        const train = byName(report).train_seed7!
        assert.strictEqual(train.base, "train")
        assert.deepStrictEqual(train.branch, { seed: 7 })
        assert.deepStrictEqual(Object.keys(train), ["name", "base", "branch", "status", "key", "durationMs", "steps", "parameters"])
        assert.isUndefined(byName(report).prepare!.base)
        assert.isUndefined(byName(report).summarise!.branch)
      }).pipe(Effect.provide(TestLayers.layer())))
  })

  describe("data parallelism", () => {
    const data = (size: number | ReadonlyArray<number>, rows = F.rows(9)): Pipeline.RunOptions => ({
      adjlist: F.adjlist,
      parameters: { load: { rows } },
      fanout: { load: { data: { size, dataName: "rows" } }, summarise: { data: { aggregation: true } } }
    })

    it.effect("3 equal partitions: each branch receives its share of the rows, the aggregation a record by partition", () =>
      Effect.gen(function*() {
        const report = yield* Pipeline.run(F.make(F.summariseData), data(3, F.rows(10)))
        assert.deepStrictEqual(report.processes.map((p) => p.name), [
          "load",
          "prepare_data1",
          "prepare_data2",
          "prepare_data3",
          "train_data1",
          "train_data2",
          "train_data3",
          "evaluate_data1",
          "evaluate_data2",
          "evaluate_data3",
          "summarise"
        ])
        assert.deepStrictEqual(byName(report).train_data2!.branch, { partition: 2 })
        // 10 rows in 3: the first partition takes the extra row.
        assert.deepStrictEqual(F.received.size, { data1: 4, data2: 3, data3: 3 })
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("an explicit size list gives each partition its row count", () =>
      Effect.gen(function*() {
        yield* Pipeline.run(F.make(F.summariseData), data([5, 2, 2]))
        assert.deepStrictEqual(F.received.size, { data1: 5, data2: 2, data3: 2 })
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("data_name defaults to the only array-like output", () =>
      Effect.gen(function*() {
        const report = yield* Pipeline.run(F.make(F.summariseData), {
          ...data(3),
          fanout: { load: { data: { size: 3 } }, summarise: { data: { aggregation: true } } }
        })
        assert.strictEqual(report.run.status, "success")
        assert.deepStrictEqual(F.received.size, { data1: 3, data2: 3, data3: 3 })
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("an edit inside one partition re-runs that branch and the aggregation only, also with a data file", () =>
      Effect.gen(function*() {
        const pipeline = F.make(F.summariseData)
        const file = (digest: string) => ({ data: { path: "data.csv", digest } })
        yield* Pipeline.run(pipeline, { ...data(3), ...file("a") })
        const edited = F.rows(9)
        edited[4] = 50 // row 5: in the second partition (rows 4-6)
        const report = yield* Pipeline.run(pipeline, { ...data(3, edited), ...file("b") })
        assert.deepStrictEqual(statuses(report), {
          load: "executed",
          prepare_data1: "cached",
          prepare_data2: "executed",
          prepare_data3: "cached",
          train_data1: "cached",
          train_data2: "executed",
          train_data3: "cached",
          evaluate_data1: "cached",
          evaluate_data2: "executed",
          evaluate_data3: "cached",
          summarise: "executed"
        })
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("typed arrays split row-wise, into copies", () =>
      Effect.sync(() => {
        const whole = new Float64Array([1, 2, 3, 4, 5])
        const parts = Result.getOrThrow(Fanout.split(whole, [2, 3])) as ReadonlyArray<Float64Array>
        assert.deepStrictEqual(parts.map((p) => Array.from(p)), [[1, 2], [3, 4, 5]])
        assert.instanceOf(parts[0], Float64Array)
        assert.notStrictEqual(parts[0]!.buffer, whole.buffer)
        assert.deepStrictEqual(Result.getOrThrow(Fanout.partitionSizes(7, 3)), [3, 2, 2])
        assert.isTrue(Result.isFailure(Fanout.split({ rows: [1] }, 2)))
      }))
  })

  describe("nested layers", () => {
    const both = (fanout: Pipeline.RunOptions["fanout"]): Pipeline.RunOptions => ({
      adjlist: `${F.adjlist}\nprepare summarise`,
      parameters: { load: { rows: F.rows(4) } },
      fanout
    })

    it.effect("data then seed: one branch per partition and seed, the aggregation a record data-then-seed", () =>
      Effect.gen(function*() {
        const report = yield* Pipeline.run(
          F.make(F.summariseBoth),
          both({
            load: { data: { size: 2 } },
            prepare: { seed: { seeds: [1, 2] } },
            summarise: { data: { aggregation: true }, seed: { aggregation: true } }
          })
        )
        assert.deepStrictEqual(report.processes.map((p) => p.name), [
          "load",
          "prepare_data1",
          "prepare_data2",
          "train_data1_seed1",
          "train_data1_seed2",
          "train_data2_seed1",
          "train_data2_seed2",
          "evaluate_data1_seed1",
          "evaluate_data1_seed2",
          "evaluate_data2_seed1",
          "evaluate_data2_seed2",
          "summarise"
        ])
        assert.deepStrictEqual(byName(report).train_data2_seed1!.branch, { partition: 2, seed: 1 })
        const score = F.received.score as Record<string, Record<string, number>>
        assert.deepStrictEqual(Object.keys(score), ["data1", "data2"])
        assert.deepStrictEqual(Object.keys(score.data1!), ["seed1", "seed2"])
        // An output that varies by partition only is a record by partition only.
        assert.deepStrictEqual(F.received.train, { data1: [2, 4], data2: [6, 8] })
        assert.strictEqual(new Set(report.processes.filter((p) => p.base === "train").map((p) => p.key)).size, 4)
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("seed then data: the record is still keyed data first, then seed; a schema of another shape is refused", () =>
      Effect.gen(function*() {
        const fanout = {
          load: { seed: { seeds: [1, 2] } },
          prepare: { data: { size: 2 } },
          summarise: { data: { aggregation: true }, seed: { aggregation: true } }
        }
        const report = yield* Pipeline.run(F.make(F.summariseNested), both(fanout))
        assert.include(report.processes.map((p) => p.name), "train_seed2_data1")
        assert.strictEqual(report.run.status, "success")
        const score = F.received.score as Record<string, Record<string, number>>
        assert.deepStrictEqual(Object.keys(score), ["data1", "data2"])
        assert.deepStrictEqual(Object.keys(score.data2!), ["seed1", "seed2"])
        // prepare runs per seed and splits its output: its partitions come keyed data, then seed, too.
        assert.deepStrictEqual(F.received.train, { data1: { seed1: [2, 4], seed2: [2, 4] }, data2: { seed1: [6, 8], seed2: [6, 8] } })

        // summariseBoth declares train as byData(Rows): one level short.
        const [p] = yield* problems(F.make(F.summariseBoth), both(fanout))
        assert.strictEqual(p!.code, "aggregation-input")
        assert.match(
          p!.message,
          /input train of summarise receives the output train of every branch of prepare, as a record by partition, then seed \(\{ data1: \{ seed1: … \} \}\), but its schema declares 1 level of records: declare it Fanout.byData\(Fanout.bySeed\(…\)\)/
        )
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("aggregating the inner seed layer leaves the data layer open: the aggregation runs once per partition", () =>
      Effect.gen(function*() {
        const plan = yield* Pipeline.plan(
          F.make(F.summariseSeeds),
          both({ load: { data: { size: 2, dataName: "rows" } }, prepare: { seed: { seeds: [1, 2, 3] } }, summarise: { seed: { aggregation: true } } })
        )
        assert.deepStrictEqual(plan.order.filter((n) => n.startsWith("summarise")), ["summarise_data1", "summarise_data2"])
        assert.deepStrictEqual(plan.upstream.get("summarise_data2"), ["evaluate_data2_seed1", "evaluate_data2_seed2", "evaluate_data2_seed3", "load", "prepare_data2"])
        assert.deepStrictEqual(plan.layers.map((l) => [l.kind, l.opener, l.labels.length, l.aggregatedBy]), [["data", "load", 2, []], ["seed", "prepare", 3, ["summarise"]]])
      }))
  })

  it.effect("an aggregation may open the next layer", () =>
    Effect.gen(function*() {
      const scores = Process.make({
        name: "summarise",
        inputs: { score: Fanout.bySeed(Schema.Finite) },
        outputs: {},
        run: () => Effect.succeed({})
      })
      const plan = yield* Pipeline.plan(F.make(scores), {
        adjlist: "load prepare\nprepare train evaluate\ntrain evaluate\nevaluate summarise",
        parameters: { load: { rows: F.rows(4) } },
        fanout: { load: { seed: { seeds: [1, 2] } }, prepare: { seed: { aggregation: true, seeds: [3, 4] } }, summarise: { seed: { aggregation: true } } }
      })
      assert.deepStrictEqual(plan.order, ["load", "prepare", "train_seed3", "train_seed4", "evaluate_seed3", "evaluate_seed4", "summarise"])
      assert.deepStrictEqual(plan.layers.map((l) => [l.opener, l.processes, l.aggregatedBy]), [["load", [], ["prepare"]], ["prepare", ["train", "evaluate"], ["summarise"]]])
    }))

  describe("declared in code", () => {
    it.effect("Pipeline.make({ fanout }) expands as the config does, with the same keys", () =>
      Effect.gen(function*() {
        const inCode = F.make(F.summariseSeeds, [Fanout.seeds(F.prepare, [41, 42, 43]), Fanout.aggregate(F.summariseSeeds, "seed")])
        const fromCode = yield* Pipeline.run(inCode, { adjlist: F.adjlist, parameters: { load: { rows: F.rows(6) } } }).pipe(
          Effect.provide(TestLayers.layer())
        )
        const fromConfig = yield* Pipeline.run(F.make(F.summariseSeeds), seeds([41, 42, 43])).pipe(Effect.provide(TestLayers.layer()))
        assert.deepStrictEqual(fromCode.processes.map((p) => [p.name, p.key]), fromConfig.processes.map((p) => [p.name, p.key]))
        // The config's setting replaces the code's, kind by kind.
        const plan = yield* Pipeline.plan(inCode, {
          adjlist: F.adjlist,
          parameters: { load: { rows: F.rows(6) } },
          fanout: { prepare: { seed: { seeds: [1, 2] } } }
        })
        assert.deepStrictEqual(plan.order.filter((n) => n.startsWith("train")), ["train_seed1", "train_seed2"])
      }))

    it.effect("partitions are typed by the outputs that can be split", () =>
      Effect.gen(function*() {
        const inCode = F.make(F.summariseData, [Fanout.partitions(F.load, { size: [3, 3, 3], dataName: "rows" }), Fanout.aggregate(F.summariseData, "data")])
        // @ts-expect-error `label` is a string: it cannot be split.
        Fanout.partitions(F.load, { size: 3, dataName: "label" })
        const report = yield* Pipeline.run(inCode, { adjlist: F.adjlist, parameters: { load: { rows: F.rows(9) } } })
        assert.strictEqual(report.run.status, "success")
        assert.deepStrictEqual(F.received.size, { data1: 3, data2: 3, data3: 3 })
      }).pipe(Effect.provide(TestLayers.layer())))
  })

  describe("validation, before anything runs", () => {
    const pipeline = F.make(F.summariseSeeds)
    const base = { adjlist: F.adjlist, parameters: { load: { rows: F.rows(6) } } }
    const one = (fanout: Pipeline.RunOptions["fanout"], extra: Pipeline.RunOptions = {}) =>
      Effect.map(problems(pipeline, { ...base, fanout, ...extra }), (ps) => ps.map((p) => ({ code: p.code, processes: p.processes, message: p.message, setting: p.setting })))

    it.effect("an aggregation with no open layer upstream", () =>
      Effect.gen(function*() {
        const [p] = yield* one({ summarise: { seed: { aggregation: true } } })
        assert.strictEqual(p!.code, "aggregation-without-layer")
        assert.deepStrictEqual(p!.processes, ["summarise"])
        assert.deepStrictEqual(p!.setting, { process: "summarise", name: "seed_parallelism", key: "aggregation" })
        assert.match(p!.message, /seed_parallelism of summarise: aggregation, but no seed parallelism is open upstream of summarise/)
      }))

    it.effect("an empty seed list, and duplicate seeds", () =>
      Effect.gen(function*() {
        const [empty] = yield* one({ prepare: { seed: { seeds: [] } } })
        assert.strictEqual(empty!.code, "empty-seeds")
        assert.deepStrictEqual(empty!.setting, { process: "prepare", name: "seed_parallelism", key: "seeds" })
        assert.match(empty!.message, /seed_parallelism of prepare: the seed list is empty/)
        const [twice] = yield* one({ prepare: { seed: { seeds: [1, 2, 1, 3, 2] } } })
        assert.strictEqual(twice!.code, "duplicate-seeds")
        assert.match(twice!.message, /seed_parallelism of prepare: seeds 1, 2 listed more than once/)
      }))

    it.effect("data_name that is not an output, or cannot be split; no splittable output", () =>
      Effect.gen(function*() {
        const [unknown] = yield* one({ load: { data: { size: 3, dataName: "rowz" } } })
        assert.strictEqual(unknown!.code, "unknown-data-name")
        assert.deepStrictEqual(unknown!.setting, { process: "load", name: "data_parallelism", key: "data_name" })
        assert.match(unknown!.message, /data_name rowz is not an output of load \(outputs: rows, label\)/)
        const [label] = yield* one({ load: { data: { size: 3, dataName: "label" } } })
        assert.strictEqual(label!.code, "not-splittable")
        assert.match(label!.message, /output label \(a string\) cannot be split into partitions: only arrays and typed arrays can/)
        const [none] = yield* one({ train: { data: { size: 3 } } })
        assert.strictEqual(none!.code, "not-splittable")
        assert.match(none!.message, /train has no output that can be split .*outputs: model \(a number\)/)
      }))

    it.effect("an aggregation of the outer layer while an inner one is open; one layer of a kind inside another", () =>
      Effect.gen(function*() {
        const [order] = yield* one({ load: { data: { size: 2, dataName: "rows" } }, prepare: { seed: { seeds: [1, 2] } }, summarise: { data: { aggregation: true } } })
        assert.strictEqual(order!.code, "aggregation-order")
        assert.match(order!.message, /aggregation collapses only the innermost open layer, which is the seed parallelism of prepare \(2 seeds\)/)
        const [nested] = yield* one({ load: { seed: { seeds: [1] } }, prepare: { seed: { seeds: [2] } } })
        assert.strictEqual(nested!.code, "nested-layer")
        assert.deepStrictEqual(nested!.processes, ["prepare", "load"])
      }))

    it.effect("branches of two fan-outs that are not nested meet in one process", () =>
      Effect.gen(function*() {
        const a = Process.make({ name: "a", outputs: { x: Schema.Finite }, run: () => Effect.succeed({ x: 1 }) })
        const b = Process.make({ name: "b", outputs: { y: Schema.Finite }, run: () => Effect.succeed({ y: 2 }) })
        const c = Process.make({ name: "c", inputs: { x: Schema.Finite, y: Schema.Finite }, outputs: {}, run: () => Effect.succeed({}) })
        const ps = yield* problems(Pipeline.make({ name: "p", processes: [a, b, c] }), {
          adjlist: "a c\nb c",
          fanout: { a: { seed: { seeds: [1, 2] } }, b: { seed: { seeds: [3] } } }
        })
        assert.deepStrictEqual(ps.map((p) => p.code), ["mixed-branches"])
        assert.match(ps[0]!.message, /process c takes branches of two fan-outs that are not nested/)
      }))

    it.effect("more branches than max_branches, unless confirmed by raising it", () =>
      Effect.gen(function*() {
        const many = Array.from({ length: 1001 }, (_, i) => i)
        const [p] = yield* one({ prepare: { seed: { seeds: many } } })
        assert.strictEqual(p!.code, "too-many-branches")
        assert.deepStrictEqual(p!.processes, ["train", "evaluate", "summarise", "prepare"])
        assert.match(p!.message, /fan-out would run train, evaluate, summarise in 1,001 branches each \(1001 seeds of prepare\), more than max_branches \(1,000\)/)
        assert.match(p!.message, /raise model.parameters.pipeline.max_branches to 1001 or more/)
        const confirmed = yield* Pipeline.plan(pipeline, { ...base, fanout: { prepare: { seed: { seeds: many } } }, maxBranches: 1001 })
        assert.strictEqual(confirmed.order.length, 2 + 3 * 1001)
        const [small] = yield* one({ prepare: { seed: { seeds: [1, 2, 3] } } }, { maxBranches: 2 })
        assert.strictEqual(small!.code, "too-many-branches")
      }))

    it.effect("a size list whose sum differs from the rows fails the split when it runs, naming the counts", () =>
      Effect.gen(function*() {
        const report = yield* Pipeline.run(F.make(F.summariseData), {
          ...base,
          fanout: { load: { data: { size: [3, 2], at: "configs/project_config.yaml:27" } }, summarise: { data: { aggregation: true } } }
        })
        const s = statuses(report)
        assert.strictEqual(s.load, "failed")
        assert.match(
          byName(report).load!.error!,
          /^data_parallelism of load \(configs\/project_config.yaml:27\): cannot split output rows: size \[3, 2\] adds up to 5 rows, but there are 6$/
        )
        assert.isTrue(report.processes.filter((p) => p.name !== "load").every((p) => p.status === "skipped"))
        assert.strictEqual(report.run.status, "failed")
      }).pipe(Effect.provide(TestLayers.layer())))

    it.effect("settings for an unknown process, and a setting with nothing to do", () =>
      Effect.gen(function*() {
        const [unknown] = yield* one({ prepar: { seed: { seeds: [1] } } })
        assert.strictEqual(unknown!.code, "unknown-process")
        assert.match(unknown!.message, /seed_parallelism is given for unknown process prepar/)
        const [empty] = yield* one({ prepare: { seed: {} } })
        assert.strictEqual(empty!.code, "bad-fanout")
      }))
  })

  // On the test clock: each branch's 20 ms pass when the test moves it, so only the bound decides how many overlap.
  it.effect("branches run concurrently, bounded by the pipeline's concurrency", () =>
    Effect.gen(function*() {
      const load = Process.make({ name: "load", outputs: { rows: Schema.Array(Schema.Finite) }, run: () => Effect.succeed({ rows: [1, 2, 3, 4, 5, 6] }) })
      const work = Process.make({
        name: "work",
        inputs: { rows: Schema.Array(Schema.Finite) },
        outputs: { n: Schema.Int },
        run: ({ rows }) =>
          Effect.gen(function*() {
            F.received.inFlight = (F.received.inFlight as number) + 1
            F.received.most = Math.max(F.received.most as number, F.received.inFlight as number)
            yield* Effect.sleep("20 millis")
            F.received.inFlight = (F.received.inFlight as number) - 1
            return { n: rows.length }
          })
      })
      const pipeline = Pipeline.make({ name: "wide", processes: [load, work], edges: [["load", "work"]] })
      for (const concurrency of [1, 3]) {
        F.received.inFlight = 0
        F.received.most = 0
        const running = yield* Effect.forkChild(Pipeline.run(pipeline, { concurrency, fanout: { load: { data: { size: 6 } } } }).pipe(Effect.provide(TestLayers.layer())))
        // Six branches of 20 ms, one after another at the most: 120 ms of test time.
        yield* TestClock.adjust("120 millis")
        const report = yield* Fiber.join(running)
        assert.strictEqual(report.processes.filter((p) => p.base === "work" && p.status === "executed").length, 6)
        assert.strictEqual(F.received.most, concurrency)
      }
    }))
})
