/**
 * Comparisons 2 and 3: what computing a key costs when the input is large.
 *
 * - largeHash: a 10-million-element Float64Array (80 MB) as a step input.
 *   `expops` is the whole key path of a step call (schema encoding, canonical
 *   hash, key recipe, then a hit on the in-memory store with a tiny output);
 *   `canonicalHash` is `CanonicalHash.digest` alone; the floor is raw
 *   node:crypto SHA-256 over the same bytes; `joblib` is `joblib.hash` of a
 *   numpy array of the same size, in Python (MD5, joblib's default).
 * - recordsHash: 10,000 small records, the same shapes as bench/core.ts;
 *   `expops` is the step key path again, `canonicalHash` the hash alone, the
 *   floor `JSON.stringify` plus SHA-256 (which is not canonical: key order
 *   changes it).
 */
import { createHash } from "node:crypto"
import { performance } from "node:perf_hooks"
import { CanonicalHash, Cache, Reproducibility, Step } from "@expops/core"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { round } from "../harness.ts"
import { alternate, log } from "./alternate.ts"
import type { JoblibServer } from "./python.ts"
import { makeRecords } from "../core.ts"

export interface LargeHashResult {
  readonly unit: "GB/s"
  readonly bytes: number
  readonly rounds: number
  readonly expops: number
  readonly canonicalHash: number
  readonly nodeSha256: number
  readonly joblib: number | null
  /** ExpOps's throughput over raw SHA-256's (target: at least 0.9). */
  readonly expopsOverSha256: number
  readonly canonicalHashOverSha256: number
  readonly expopsOverJoblib: number | null
}

export interface RecordsHashResult {
  readonly unit: "ms"
  readonly records: number
  readonly rounds: number
  readonly expops: number
  readonly canonicalHash: number
  readonly jsonSha256: number
  /** ExpOps's time over JSON.stringify + SHA-256's (target: at most 2). */
  readonly expopsOverJson: number
  readonly canonicalHashOverJson: number
}

const timeMs = (f: () => unknown) => {
  const start = performance.now()
  f()
  return performance.now() - start
}

const memoryRuntime = () => ManagedRuntime.make(Layer.merge(Cache.layerMemory(), Reproducibility.layer(42)))

export const largeHash = async (options: { readonly quick: boolean; readonly joblib: JoblibServer | undefined }): Promise<LargeHashResult> => {
  const length = 10_000_000
  const bytes = length * 8
  const rounds = options.quick ? 5 : 15
  const data = new Float64Array(length)
  for (let i = 0; i < length; i++) data[i] = Math.sin(i)
  const raw = new Uint8Array(data.buffer)

  const runs = { body: 0 }
  const summarize = Step.make({
    name: "summarize",
    input: Schema.instanceOf(Float64Array),
    output: Schema.Finite,
    run: (xs) => Effect.sync(() => {
      runs.body++
      return xs.length
    })
  })
  const runtime = memoryRuntime()
  await runtime.runPromise(summarize(data)) // the entry every timed call hits
  if (options.joblib !== undefined) await options.joblib.send({ cmd: "make_array", n: length })

  log(`large hash: ${rounds} rounds over ${bytes / 1e6} MB`)
  const contenders: Record<string, () => Promise<number> | number> = {
    expops: async () => {
      const start = performance.now()
      await runtime.runPromise(summarize(data))
      return performance.now() - start
    },
    canonicalHash: () => timeMs(() => CanonicalHash.digest(data)),
    nodeSha256: () => timeMs(() => createHash("sha256").update(raw).digest("hex"))
  }
  if (options.joblib !== undefined) {
    const server = options.joblib
    contenders.joblib = async () => (await server.send<{ seconds: number }>({ cmd: "hash" })).seconds * 1000
  }
  const ms = (await alternate(contenders, rounds)).median
  await runtime.dispose()
  if (runs.body !== 1) throw new Error(`the step ran ${runs.body} times; every timed call should have been a hit`)
  const gbps = (t: number) => bytes / 1e9 / (t / 1000)
  return {
    unit: "GB/s",
    bytes,
    rounds,
    expops: round(gbps(ms.expops!)),
    canonicalHash: round(gbps(ms.canonicalHash!)),
    nodeSha256: round(gbps(ms.nodeSha256!)),
    joblib: ms.joblib === undefined ? null : round(gbps(ms.joblib)),
    expopsOverSha256: round(ms.nodeSha256! / ms.expops!),
    canonicalHashOverSha256: round(ms.nodeSha256! / ms.canonicalHash!),
    expopsOverJoblib: ms.joblib === undefined ? null : round(ms.joblib / ms.expops!)
  }
}

const Record = Schema.Struct({
  id: Schema.Int,
  name: Schema.String,
  score: Schema.Finite,
  tags: Schema.Array(Schema.String),
  active: Schema.Boolean
})

export const recordsHash = async (options: { readonly quick: boolean }): Promise<RecordsHashResult> => {
  const count = 10_000
  const rounds = options.quick ? 15 : 60
  const records = makeRecords(count)
  const runs = { body: 0 }
  const countActive = Step.make({
    name: "count_active",
    input: Schema.Array(Record),
    output: Schema.Int,
    run: (rows) => Effect.sync(() => {
      runs.body++
      return rows.filter((r) => r.active).length
    })
  })
  const runtime = memoryRuntime()
  await runtime.runPromise(countActive(records))
  log(`records hash: ${rounds} rounds over ${count} records`)
  const ms = (await alternate({
    expops: async () => {
      const start = performance.now()
      await runtime.runPromise(countActive(records))
      return performance.now() - start
    },
    canonicalHash: () => timeMs(() => CanonicalHash.digest(records)),
    jsonSha256: () => timeMs(() => createHash("sha256").update(JSON.stringify(records)).digest("hex"))
  }, rounds)).median
  await runtime.dispose()
  if (runs.body !== 1) throw new Error(`the step ran ${runs.body} times; every timed call should have been a hit`)
  return {
    unit: "ms",
    records: count,
    rounds,
    expops: round(ms.expops),
    canonicalHash: round(ms.canonicalHash),
    jsonSha256: round(ms.jsonSha256),
    expopsOverJson: round(ms.expops / ms.jsonSha256),
    canonicalHashOverJson: round(ms.canonicalHash / ms.jsonSha256)
  }
}
