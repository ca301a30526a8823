import { assert, describe, it } from "@effect/vitest"
import type { RunReport } from "@expops/core"
import { Effect, Option } from "effect"
import { GcsRunStore } from "@expops/backend-gcs"
import { BUCKET, client, names, server } from "./fixtures/gcs.ts"

const report = (id: string, startedAt: number, status: "success" | "failed" = "success"): RunReport.RunReport => ({
  run: { id, pipeline: "demo", status, seed: 42, backend: "gcs", startedAt, durationMs: 12 },
  processes: [
    { name: "load", status: "cached", key: "a".repeat(64), durationMs: 1, savedMs: 40, steps: [] },
    {
      name: "train",
      status: status === "success" ? "executed" : "failed",
      key: "b".repeat(64),
      durationMs: 9,
      steps: [{ name: "fit", status: "executed", key: "c".repeat(64), durationMs: 8 }]
    }
  ],
  metrics: [{ name: "loss", value: 0.25, index: 0, process: "train", step: "fit" }]
})

describe("GcsRunStore", () => {
  it.live("stores each run as PREFIX/PROJECT/runs/<id>.json and reads it back", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsRunStore.make(client(fake))
      const saved = report("20260101T000000Z-aaaaaa", 1000)
      yield* store.saveRun(saved)
      assert.deepStrictEqual(names(fake, "runs/"), ["expops/demo/runs/20260101T000000Z-aaaaaa.json"])
      assert.deepStrictEqual(Option.getOrThrow(yield* store.getRun(saved.run.id)), saved)
      assert.isTrue(Option.isNone(yield* store.getRun("20990101T000000Z-ffffff")))
    }))

  it.live("lists runs newest first from listing requests alone", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsRunStore.make(client(fake, { pageSize: 2 }))
      yield* store.saveRun(report("run-b", 2000, "failed"))
      yield* store.saveRun(report("run-a", 1000))
      yield* store.saveRun(report("run-c", 3000))
      fake.resetLog()
      const listed = yield* store.listRuns()
      assert.deepStrictEqual(listed.map((r) => r.id), ["run-c", "run-b", "run-a"])
      assert.deepStrictEqual(listed[1], {
        id: "run-b",
        pipeline: "demo",
        status: "failed",
        startedAt: 2000,
        durationMs: 12,
        seed: 42,
        backend: "gcs",
        processes: { cached: 1, failed: 1 },
        steps: { executed: 1 },
        savedMs: 40
      })
      assert.deepStrictEqual(new Set(fake.requests.map((r) => r.operation)), new Set(["object.list"]))
      assert.deepStrictEqual((yield* store.listRuns({ limit: 1 })).map((r) => r.id), ["run-c"])
    }))

  it.live("a run object written without a summary is read to list it", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.putObject(BUCKET, "expops/demo/runs/run-x.json", new TextEncoder().encode(JSON.stringify(report("run-x", 5))))
      const listed = yield* GcsRunStore.make(client(fake)).listRuns()
      assert.deepStrictEqual(listed.map((r) => [r.id, r.startedAt]), [["run-x", 5]])
    }))

  it.live("an object that is not a run report is an error naming it", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.putObject(BUCKET, "expops/demo/runs/broken.json", new TextEncoder().encode("{\"run\": 1}"))
      const error = yield* Effect.flip(GcsRunStore.make(client(fake)).getRun("broken"))
      assert.strictEqual(error._tag, "RunStoreError")
      assert.match(error.message, /read run at gs:\/\/team-cache\/expops\/demo\/runs\/broken\.json: not a run report/)
    }))

  it.effect("a run id that is not a plain name is refused", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const error = yield* Effect.flip(GcsRunStore.make(client(fake)).getRun("../cache/manifests/x"))
      assert.match(error.message, /is not a valid run id/)
      assert.strictEqual(fake.count(), 0)
    }))
})
