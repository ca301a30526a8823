/**
 * Core benchmarks: the overhead of a step hit on the in-memory store, and
 * canonical hashing against the floors it is measured against (raw SHA-256
 * of the same bytes; JSON.stringify plus SHA-256 of the same records).
 *
 * Run: `npx node bench/core.ts [--quick]`, or all benchmarks with `npm run bench`.
 */
import { createHash } from "node:crypto"
import { Effect, Layer, Schema } from "effect"
import { CanonicalHash, Step } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { median, round, sideBySide } from "./harness.ts"

export interface CoreResult {
  readonly hitOverhead: { readonly unit: "us"; readonly memoryStoreMedian: number; readonly bareEffectMedian: number }
  readonly largeHash: { readonly unit: "GB/s"; readonly bytes: number; readonly expops: number; readonly nodeSha256: number; readonly ratio: number }
  readonly recordsHash: { readonly unit: "ms"; readonly records: number; readonly expops: number; readonly jsonSha256: number; readonly ratio: number }
}

const Output = Schema.Struct({ id: Schema.Int, payload: Schema.String })

const hitOverhead = async (calls: number) => {
  const step = Step.make({
    name: "echo",
    input: Schema.Int,
    output: Output,
    run: (id) => Effect.succeed({ id, payload: "x".repeat(1000) })
  })
  const layer = TestLayers.layer()
  // Measure many calls inside one running program: what a pipeline pays per cached step.
  const perCall = await Effect.runPromise(Effect.gen(function*() {
    yield* step(1)
    const samples: Array<number> = []
    for (let i = 0; i < calls; i++) {
      const start = performance.now()
      yield* step(1)
      samples.push((performance.now() - start) * 1000)
    }
    return median(samples)
  }).pipe(Effect.provide(layer as Layer.Layer<any>)))
  const bare = await Effect.runPromise(Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < calls; i++) {
      const start = performance.now()
      yield* Effect.succeed({ id: 1, payload: "x" })
      samples.push((performance.now() - start) * 1000)
    }
    return median(samples)
  }))
  return { unit: "us" as const, memoryStoreMedian: round(perCall), bareEffectMedian: round(bare) }
}

const largeHash = async (bytes: number, rounds: number) => {
  const data = new Float64Array(bytes / 8).map((_, i) => Math.sin(i))
  const raw = new Uint8Array(data.buffer)
  const ms = await sideBySide({
    expops: () => CanonicalHash.digest(data),
    nodeSha256: () => createHash("sha256").update(raw).digest("hex")
  }, rounds)
  const gbps = (t: number) => round(bytes / 1e9 / (t / 1000))
  return { unit: "GB/s" as const, bytes, expops: gbps(ms.expops), nodeSha256: gbps(ms.nodeSha256), ratio: round(ms.nodeSha256 / ms.expops) }
}

/** The small records both record-hashing benchmarks use. */
export const makeRecords = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: i,
    name: `record-${i}`,
    score: i / 7,
    tags: ["a", "b", String(i % 10)],
    active: i % 2 === 0
  }))

const recordsHash = async (count: number, rounds: number) => {
  const records = makeRecords(count)
  const ms = await sideBySide({
    expops: () => CanonicalHash.digest(records),
    jsonSha256: () => createHash("sha256").update(JSON.stringify(records)).digest("hex")
  }, rounds)
  return { unit: "ms" as const, records: count, expops: round(ms.expops), jsonSha256: round(ms.jsonSha256), ratio: round(ms.expops / ms.jsonSha256) }
}

export const run = async (options: { readonly quick: boolean }): Promise<CoreResult> => ({
  hitOverhead: await hitOverhead(options.quick ? 2_000 : 20_000),
  largeHash: await largeHash(64 * 1024 * 1024, options.quick ? 5 : 15),
  recordsHash: await recordsHash(10_000, options.quick ? 15 : 60)
})

if (import.meta.main) {
  console.log(JSON.stringify(await run({ quick: process.argv.includes("--quick") }), null, 2))
}
