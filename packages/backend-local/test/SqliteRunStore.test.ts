import { assert, describe, it } from "@effect/vitest"
import { Cache, Metrics, Pipeline, Process, Reproducibility, type RunReport, RunStore, Step } from "@expops/core"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { LocalBackend, SqliteDatabase, SqliteRunStore } from "@expops/backend-local"
import { tmpDir } from "./fixtures/tmp.ts"

const report = (id: string, startedAt: number, status: "success" | "failed" = "success"): RunReport.RunReport => ({
  run: { id, pipeline: "demo", status, seed: 42, backend: "local", startedAt, durationMs: 812.5 },
  processes: [
    {
      name: "train",
      status: "executed",
      key: "a".repeat(64),
      durationMs: 640,
      steps: [
        { name: "fit", status: "cached", key: "b".repeat(64), durationMs: 0.4 },
        { name: "fit", status: "executed", key: "c".repeat(64), durationMs: 600 },
        { name: "score", status: "failed", key: "d".repeat(64), durationMs: 3, error: "boom" }
      ]
    },
    { name: "load", status: "cached", key: "e".repeat(64), durationMs: 0.2, savedMs: 120, steps: [] },
    { name: "report", status: "skipped", key: "", durationMs: 0, steps: [], error: "upstream train did not succeed" }
  ],
  metrics: [
    { name: "loss", value: 0.5, index: 1, process: "train", step: "fit" },
    { name: "loss", value: Number.NaN, index: 2, process: "train", step: "fit" },
    { name: "auc", value: Number.POSITIVE_INFINITY, index: 1, process: "train" }
  ]
})

const store = (dir: string) => SqliteRunStore.layerProject(dir)

describe("SqliteRunStore", () => {
  it.effect("saves, lists and reads runs back whole, metrics included", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const runs = yield* RunStore.RunStore
      yield* runs.saveRun(report("r1", 1000))
      yield* runs.saveRun(report("r2", 3000, "failed"))
      yield* runs.saveRun(report("r0", 2000))
      const listed = yield* runs.listRuns()
      assert.deepStrictEqual(listed.map((r) => r.id), ["r2", "r0", "r1"])
      assert.deepStrictEqual(listed[0], RunStore.summarize(report("r2", 3000, "failed")))
      assert.deepStrictEqual((yield* runs.listRuns({ limit: 1 })).map((r) => r.id), ["r2"])
      // NaN and Infinity survive: the report goes through its schema's JSON form.
      assert.deepStrictEqual(Option.getOrThrow(yield* runs.getRun("r1")), report("r1", 1000))
      assert.isTrue(Option.isNone(yield* runs.getRun("nope")))
    }).pipe(Effect.provide(store(dir)))
  })

  it.effect("keeps rows per process, step and metric for queries, and persists across openings", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const save = Effect.gen(function*() {
        yield* (yield* RunStore.RunStore).saveRun(report("r1", 1000))
      })
      yield* save.pipe(Effect.provide(store(dir)))
      // Saving the same id again (another opening of the file) replaces it rather than duplicating rows.
      yield* save.pipe(Effect.provide(store(dir)))
      const { db } = yield* SqliteDatabase.SqliteDatabase
      const q = (sql: string) => db.prepare(sql).all()
      assert.deepStrictEqual(q("SELECT process, status, key FROM run_processes ORDER BY position").map((r) => r.status), [
        "executed",
        "cached",
        "skipped"
      ])
      assert.deepStrictEqual(q("SELECT step, status, duration_ms FROM run_steps ORDER BY position").map((r) => [r.step, r.status, r.duration_ms]), [
        ["fit", "cached", 0.4],
        ["fit", "executed", 600],
        ["score", "failed", 3]
      ])
      assert.deepStrictEqual(q("SELECT name, idx, value, step FROM run_metrics ORDER BY position").map((r) => [r.name, r.idx, r.value, r.step]), [
        ["loss", 1, 0.5, "fit"],
        ["loss", 2, null, "fit"],
        ["auc", 1, Number.POSITIVE_INFINITY, null]
      ])
      assert.deepStrictEqual(q("SELECT ended_at, seed, backend FROM runs"), [{ ended_at: 1813, seed: 42, backend: "local" }])
    }).pipe(Effect.provide(SqliteDatabase.layer(LocalBackend.paths(dir).database)))
  })

  it.effect("records a real pipeline run with its logged metrics", () => {
    const dir = tmpDir()
    const fit = Step.make({
      name: "fit",
      input: Schema.Finite,
      output: Schema.Finite,
      run: function*(x) {
        for (let epoch = 1; epoch <= 3; epoch++) yield* Metrics.logMetric("loss", x / epoch)
        return x * 2
      }
    })
    const train = Process.make({
      name: "train",
      outputs: { y: Schema.Finite },
      steps: [fit],
      run: function*() {
        yield* Metrics.logMetric("accuracy", 0.9, 10)
        return { y: yield* fit(3) }
      }
    })
    return Effect.gen(function*() {
      const runs = yield* RunStore.RunStore
      const run = yield* Pipeline.run(Pipeline.make({ name: "m", processes: [train] }))
      yield* runs.saveRun(run)
      const stored = Option.getOrThrow(yield* runs.getRun(run.run.id))
      assert.deepStrictEqual(stored, run)
      assert.deepStrictEqual(stored.metrics!.map((m) => [m.name, m.index, m.value]), [
        ["accuracy", 10, 0.9],
        ["loss", 1, 3],
        ["loss", 2, 1.5],
        ["loss", 3, 1]
      ])
      assert.deepStrictEqual((yield* runs.listRuns())[0]!.steps, { executed: 1 })
    }).pipe(Effect.provide(Layer.provideMerge(Cache.layer(), Layer.merge(LocalBackend.layer(dir), Reproducibility.layer(1)))))
  })
})

const liveRun = (id: string, startedAt: number): RunStore.LiveRun => ({
  id,
  pipeline: "demo",
  startedAt,
  seed: 42,
  backend: "local",
  processes: [{ name: "load", upstream: [] }, { name: "train", upstream: ["load"] }, { name: "report", upstream: ["train"] }],
  pid: 1234,
  host: "here"
})

/** The live record, written through one store and read through another (two connections to the file, as two processes). */
const liveContract = (name: string, stores: () => { readonly writer: Layer.Layer<RunStore.RunStore, unknown>; readonly reader: Layer.Layer<RunStore.RunStore, unknown> }) =>
  it.effect(`${name}: a run in progress is seen by a reader as it goes (graph, events in order), and ends when saved`, () => {
    const { reader, writer } = stores()
    return Effect.gen(function*() {
      // Built in the test's scope: the stores stay open for all of it.
      const write = Context.get(yield* Layer.build(writer), RunStore.RunStore)
      const read = Context.get(yield* Layer.build(reader), RunStore.RunStore)
      const live = read.live!
      const start = yield* live.cursor
      yield* write.live!.begin(liveRun("r1", 1000))
      yield* write.live!.append("r1", [
        { at: 1001, event: { kind: "process", phase: "start", process: "load" } },
        { at: 1002, event: { kind: "process", phase: "store", process: "load", key: "e".repeat(64), durationMs: 2 } }
      ])
      assert.deepStrictEqual((yield* live.inProgress).map((r) => r.id), ["r1"])
      const changes = yield* live.changes(start)
      assert.deepStrictEqual(changes.map((c) => c._tag), ["Started", "Progress", "Progress"])
      assert.deepStrictEqual(changes[0]!._tag === "Started" && changes[0]!.run, liveRun("r1", 1000))
      assert.deepStrictEqual(changes.map((c) => c.seq), [...changes.map((c) => c.seq)].sort((a, b) => a - b))
      const seen = Option.getOrThrow(yield* live.started("r1"))
      assert.deepStrictEqual(seen.run.processes.map((p) => p.upstream), [[], ["load"], ["train"]])
      assert.deepStrictEqual(seen.events.map((e) => e.event.phase), ["start", "store"])
      assert.strictEqual(seen.seq, changes[2]!.seq)
      // Only what is new after a cursor; a limit caps a batch.
      assert.deepStrictEqual((yield* live.changes(changes[0]!.seq)).map((c) => c.seq), [changes[1]!.seq, changes[2]!.seq])
      assert.strictEqual((yield* live.changes(start, 1)).length, 1)

      yield* write.saveRun(report("r1", 1000))
      const finished = (yield* live.changes(changes[2]!.seq))
      assert.deepStrictEqual(finished.map((c) => c._tag), ["Finished"])
      assert.deepStrictEqual(finished[0]!._tag === "Finished" && finished[0]!.run, RunStore.summarize(report("r1", 1000)))
      assert.deepStrictEqual(yield* live.inProgress, [])
      const after = Option.getOrThrow(yield* live.started("r1"))
      assert.deepStrictEqual(after.events, [], "once saved, its report says it all")
      assert.deepStrictEqual(after.run, liveRun("r1", 1000), "its graph stays")
      assert.isTrue(Option.isNone(yield* live.started("nope")))
    }).pipe(Effect.scoped)
  })

describe("RunStore.live", () => {
  liveContract("memory", () => {
    const shared = Layer.succeed(RunStore.RunStore, RunStore.makeMemory())
    return { writer: shared, reader: shared }
  })
  liveContract("SQLite", () => {
    const dir = tmpDir()
    return { writer: store(dir), reader: store(dir) }
  })
  it.effect("SQLite: a saved run's progress rows go once it ended long ago; recent ones stay for slow readers", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const runs = yield* RunStore.RunStore
      for (const [id, at] of [["old", 1000], ["new", 20 * 60_000]] as const) {
        yield* runs.live!.begin(liveRun(id, at))
        yield* runs.live!.append(id, [{ at: at + 1, event: { kind: "process", phase: "start", process: "load" } }])
        yield* runs.saveRun(report(id, at))
      }
      const progress = (yield* runs.live!.changes(0)).filter((c) => c._tag === "Progress").map((c) => c._tag === "Progress" && c.runId)
      assert.deepStrictEqual(progress, ["new"])
    }).pipe(Effect.provide(store(dir)))
  })
})
