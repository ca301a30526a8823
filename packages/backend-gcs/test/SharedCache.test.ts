/**
 * A small pipeline on two "machines" (separate local tiers and clients) that
 * share one bucket, through core's Pipeline, Process, Step and Cache.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cache, CacheStore, Pipeline, Process, Reproducibility, Step } from "@expops/core"
import { Effect, Layer, Random, Schema } from "effect"
import { GcsCacheStore, TieredCacheStore } from "@expops/backend-gcs"
import type { FakeGcsServer } from "@expops/backend-gcs/testing"
import { BUCKET, client, names, server } from "./fixtures/gcs.ts"

const Features = Schema.instanceOf(Float64Array)

/** load -> train -> report; bodies count their executions. */
const makePipeline = () => {
  const runs: Record<string, number> = {}
  const count = (name: string) => Effect.sync(() => void (runs[name] = (runs[name] ?? 0) + 1))
  const embed = Step.make({
    name: "embed",
    input: Schema.Int,
    output: Features,
    run: function*(n) {
      yield* count("step:embed")
      return Float64Array.from({ length: n }, (_, i) => Math.sin(i))
    }
  })
  const load = Process.make({
    name: "load",
    parameters: { n: Schema.Int },
    outputs: { features: Features },
    steps: [embed],
    run: function*(_, { n }) {
      yield* count("process:load")
      return { features: yield* embed(n) }
    }
  })
  const train = Process.make({
    name: "train",
    inputs: { features: Features },
    outputs: { weight: Schema.Finite },
    run: function*({ features }) {
      yield* count("process:train")
      return { weight: features.reduce((a, b) => a + b, 0) + (yield* Random.next) }
    }
  })
  const report = Process.make({
    name: "report",
    inputs: { weight: Schema.Finite },
    outputs: { summary: Schema.String },
    run: function*({ weight }) {
      yield* count("process:report")
      return { summary: `w=${weight.toFixed(6)}` }
    }
  })
  const pipeline = Pipeline.make({ name: "shared", processes: [load, train, report], edges: [["load", "train"], ["train", "report"]] })
  return { pipeline, runs }
}

const parameters = { load: { n: 5000 } }

/** One machine: its own local tier (or none) in front of its own client of the shared bucket. */
const machine = (fake: FakeGcsServer.FakeGcsServer, local?: CacheStore.Shape) => {
  const remote = GcsCacheStore.make(client(fake))
  const store = local === undefined ? remote : TieredCacheStore.make(local, remote)
  return Layer.mergeAll(Cache.layer(), Reproducibility.layer(42)).pipe(Layer.provide(Layer.succeed(CacheStore.CacheStore, store)))
}

const statuses = (report: { readonly processes: ReadonlyArray<{ readonly name: string; readonly status: string }> }) =>
  Object.fromEntries(report.processes.map((p) => [p.name, p.status]))

describe("a cache shared through a bucket", () => {
  it.live("the second machine serves from the bucket what the first computed", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const first = makePipeline()
      const cold = yield* Effect.provide(Pipeline.run(first.pipeline, { parameters }), machine(fake, CacheStore.makeMemory()))
      assert.deepStrictEqual(statuses(cold), { load: "executed", train: "executed", report: "executed" })
      assert.deepStrictEqual(first.runs, { "process:load": 1, "step:embed": 1, "process:train": 1, "process:report": 1 })

      const second = makePipeline()
      const secondLocal = CacheStore.makeMemory()
      fake.resetLog()
      const warm = yield* Effect.provide(Pipeline.run(second.pipeline, { parameters }), machine(fake, secondLocal))
      assert.deepStrictEqual(statuses(warm), { load: "cached", train: "cached", report: "cached" })
      assert.deepStrictEqual(second.runs, {}, "nothing ran on the second machine")
      assert.deepStrictEqual(warm.processes.map((p) => p.key), cold.processes.map((p) => p.key))
      // Per process hit: its manifest, plus its blobs (load's features): 3 manifests + 1 blob, reads only.
      assert.deepStrictEqual(fake.requests.map((r) => r.operation), Array(4).fill("object.media"))
      assert.strictEqual(secondLocal.manifests.size, 3, "kept locally")

      fake.resetLog()
      const again = yield* Effect.provide(Pipeline.run(second.pipeline, { parameters }), machine(fake, secondLocal))
      assert.deepStrictEqual(statuses(again), { load: "cached", train: "cached", report: "cached" })
      assert.strictEqual(fake.count(), 0, "served from the local tier")
    }))

  it.live("a deleted blob under a manifest is a miss: the process and its step run again, downstream hits", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const first = makePipeline()
      yield* Effect.provide(Pipeline.run(first.pipeline, { parameters }), machine(fake, CacheStore.makeMemory()))
      const blobs = names(fake, "cache/blobs/")
      // load's features (5,000 doubles), not one of the processes' code parts, which a hit does not read.
      const [blob] = blobs.filter((name) => fake.objects(BUCKET).get(name)!.data.byteLength === 5000 * 8)
      assert.isTrue(fake.deleteObject(BUCKET, blob!))

      const second = makePipeline()
      const report = yield* Effect.provide(Pipeline.run(second.pipeline, { parameters }), machine(fake))
      assert.deepStrictEqual(statuses(report), { load: "executed", train: "cached", report: "cached" })
      assert.deepStrictEqual(second.runs, { "process:load": 1, "step:embed": 1 })
      assert.deepStrictEqual(names(fake, "cache/blobs/"), blobs, "stored again")
      assert.strictEqual(names(fake, "cache/quarantine/manifests/").length, 2, "the process and step manifests moved aside")
      assert.strictEqual(names(fake, "cache/manifests/").length, 4)
    }))
})
