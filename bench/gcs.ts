/**
 * GCS backend benchmarks, against the fake GCS server (a separate process on
 * loopback, so this process's memory is the client's alone):
 *
 * - hit: median latency of a process-level hit (one process whose output
 *   holds a small field and a 64 KiB array, so one manifest plus one blob),
 *   through `Pipeline.run` + `Cache`, with the bucket alone (every hit goes
 *   to the server) and with a memory local tier in front (hits stay in
 *   process); plus `Cache.lookup` alone, and the memory store as the floor;
 * - hitWithLatency: the same bucket-only hit of an entry with three blobs when
 *   every request takes 20 ms (a nearby region): one manifest read, then the
 *   three blobs in parallel, so about two round trips, not four;
 * - roundTrip: a 256 MiB blob (64 MiB with --quick) written with a resumable
 *   upload and read back, MB/s each way, and the peak of memory above what
 *   is held before each phase: the upload sends slices of the caller's
 *   buffer; the download fills one buffer of the announced size.
 *
 * Run: `npx node bench/gcs.ts [--quick]` after `npx tsc -b tsconfig.build.json`
 * (plain Node resolves the workspace packages to their `dist/`), or all
 * benchmarks with `npm run bench`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash, randomFillSync } from "node:crypto"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Cache, CacheStore, Pipeline, Process, type Recipe, Reproducibility } from "@expops/core"
import { TestRecipes } from "@expops/core/testing"
import { Effect, Layer, Option, Schema } from "effect"
import { GcsCacheStore, GcsClient, TieredCacheStore } from "@expops/backend-gcs"
import { median, MiB, round, sampleMemory } from "./harness.ts"

const BUCKET = "bench"

interface Memory {
  readonly before: { readonly rss: number; readonly arrayBuffers: number }
  readonly peakAbove: { readonly rss: number; readonly arrayBuffers: number }
}

interface Quantiles {
  readonly median: number
  readonly p90: number
}

export interface GcsResult {
  readonly quick: boolean
  readonly server: string
  readonly hit: {
    readonly unit: "ms"
    readonly samples: number
    readonly entry: string
    readonly bucketOnly: Quantiles
    readonly localTier: Quantiles
    readonly memoryStore: Quantiles
    readonly lookupBucketOnly: Quantiles
    readonly requestsPerBucketHit: number
  }
  readonly hitWithLatency: {
    readonly unit: "ms"
    readonly latencyPerRequestMs: number
    readonly blobs: number
    readonly lookup: number
    /** Four round trips, had the blobs been fetched one after another. */
    readonly sequentialEstimate: number
  }
  readonly roundTrip: {
    readonly mib: number
    readonly unit: "MB/s"
    readonly upload: number
    readonly download: number
    readonly uploadSeconds: number
    readonly downloadSeconds: number
    /** MiB: what was held after a full GC before each phase (the upload holds the blob), and the peak above it. */
    readonly memory: {
      readonly upload: Memory
      readonly download: Memory
    }
  }
}

const quantiles = (xs: ReadonlyArray<number>): Quantiles => {
  const sorted = xs.slice().sort((a, b) => a - b)
  return { median: round(median(sorted)), p90: round(sorted[Math.floor(sorted.length * 0.9)]!) }
}

/** The fake server in a child process; resolves with its URL. */
const startServer = async (latencyMs = 0): Promise<{ url: string; child: ChildProcess }> => {
  const testing = fileURLToPath(import.meta.resolve("@expops/backend-gcs/testing"))
  const script = path.join(path.dirname(testing), "FakeGcsServer.js")
  const child = spawn(process.execPath, [script, "--bucket", BUCKET, "--latency-ms", String(latencyMs)], { stdio: ["ignore", "pipe", "inherit"] })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split("\n")[0]
      if (out.includes("\n")) resolve(JSON.parse(line!).url)
    })
    child.on("exit", (code) => reject(new Error(`fake GCS server exited with ${code}`)))
  })
  return { url, child }
}

const clientOf = (url: string) =>
  GcsClient.make({ bucket: BUCKET, prefix: "bench", projectName: "gcs", apiEndpoint: url })

const Output = { label: Schema.String, features: Schema.instanceOf(Float64Array) }
const produce = Process.make({
  name: "produce",
  outputs: Output,
  run: () => Effect.succeed({ label: "features", features: Float64Array.from({ length: 8192 }, (_, i) => Math.sin(i)) })
})
const pipeline = Pipeline.make({ name: "bench", processes: [produce] })

const layerOver = (store: CacheStore.Shape) =>
  Layer.mergeAll(Cache.layer(), Reproducibility.layer(1)).pipe(Layer.provide(Layer.succeed(CacheStore.CacheStore, store)))

/** Median time of a warm one-process pipeline run: a process-level hit. */
const timeHits = async (store: CacheStore.Shape, samples: number) =>
  Effect.runPromise(Effect.gen(function*() {
    const first = yield* Pipeline.run(pipeline)
    if (first.processes[0]!.status !== "executed" && first.processes[0]!.status !== "cached") throw new Error("setup failed")
    const times: Array<number> = []
    for (let i = 0; i < samples; i++) {
      const start = performance.now()
      const report = yield* Pipeline.run(pipeline)
      times.push(performance.now() - start)
      if (report.processes[0]!.status !== "cached") throw new Error(`expected a hit, got ${report.processes[0]!.status}`)
    }
    return quantiles(times)
  }).pipe(Effect.provide(layerOver(store))))

const recipe = (name: string): Recipe.Recipe => TestRecipes.placeholder(name, "process")

const lookupTimes = async (store: CacheStore.Shape, schema: Schema.Codec<any, any, never, never>, value: unknown, samples: number) =>
  Effect.runPromise(Effect.gen(function*() {
    const cache = yield* Cache.make()
    const key = "e".repeat(64)
    yield* cache.memoize({ key, recipe: recipe("lookup"), schema, compute: Effect.succeed(value) })
    const times: Array<number> = []
    for (let i = 0; i < samples; i++) {
      const start = performance.now()
      const hit = yield* cache.lookup(key, schema)
      times.push(performance.now() - start)
      if (Option.isNone(hit)) throw new Error("expected a hit")
    }
    return quantiles(times)
  }).pipe(Effect.provideService(CacheStore.CacheStore, store)))

const hit = async (url: string, samples: number) => {
  const bucketOnly = await timeHits(GcsCacheStore.make(clientOf(url)), samples)
  const localTier = await timeHits(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(clientOf(url))), samples)
  const memoryStore = await timeHits(CacheStore.makeMemory(), samples)
  const lookupBucketOnly = await lookupTimes(
    GcsCacheStore.make(clientOf(url)),
    Schema.Struct(Output),
    { label: "features", features: Float64Array.from({ length: 8192 }, (_, i) => Math.cos(i)) },
    samples
  )
  return {
    unit: "ms" as const,
    samples,
    entry: "one process; output: a string and a 64 KiB Float64Array (1 manifest + 1 blob)",
    bucketOnly,
    localTier,
    memoryStore,
    lookupBucketOnly,
    requestsPerBucketHit: 2
  }
}

const hitWithLatency = async (samples: number) => {
  const latencyMs = 20
  const { child, url } = await startServer(latencyMs)
  try {
    const Three = Schema.Struct({ a: Schema.instanceOf(Float64Array), b: Schema.instanceOf(Float64Array), c: Schema.instanceOf(Float64Array) })
    const arr = (n: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * n))
    const times = await lookupTimes(GcsCacheStore.make(clientOf(url)), Three, { a: arr(4096), b: arr(4097), c: arr(4098) }, samples)
    return { unit: "ms" as const, latencyPerRequestMs: latencyMs, blobs: 3, lookup: times.median, sequentialEstimate: 4 * latencyMs }
  } finally {
    child.kill()
  }
}

/**
 * Samples memory while `f` runs. Returns, in MiB, the level after a full GC
 * at the start and the peaks above it.
 */
const peakDuring = async <A>(f: () => Promise<A>) => {
  const memory = sampleMemory(10)
  const start = performance.now()
  let peak: { rss: number; arrayBuffers: number } | undefined
  try {
    const result = await f()
    const seconds = (performance.now() - start) / 1000
    peak = memory.stop()
    return {
      result,
      seconds,
      baseline: { rss: round(memory.before.rss / MiB), arrayBuffers: round(memory.before.arrayBuffers / MiB) },
      rss: round(peak.rss / MiB),
      arrayBuffers: round(peak.arrayBuffers / MiB)
    }
  } finally {
    if (peak === undefined) memory.stop()
  }
}

const roundTrip = async (url: string, mib: number) => {
  const store = GcsCacheStore.make(clientOf(url))
  let data: Uint8Array | undefined = randomFillSync(new Uint8Array(mib * MiB))
  const digest = createHash("sha256").update(data).digest("hex")
  const up = await peakDuring(() => Effect.runPromise(store.putBlob(digest, data!)))
  data = undefined
  // The client lets go of the uploaded buffer a moment after the upload ends (pending socket events).
  await new Promise((resolve) => setTimeout(resolve, 500))
  const down = await peakDuring(() => Effect.runPromise(store.getBlob(digest)))
  const read = Option.getOrThrow(down.result)
  if (read.byteLength !== mib * MiB || createHash("sha256").update(read).digest("hex") !== digest) throw new Error("round trip corrupted the blob")
  const mbps = (s: number) => round((mib * MiB) / 1e6 / s)
  return {
    mib,
    unit: "MB/s" as const,
    upload: mbps(up.seconds),
    download: mbps(down.seconds),
    uploadSeconds: round(up.seconds),
    downloadSeconds: round(down.seconds),
    memory: {
      upload: { before: up.baseline, peakAbove: { rss: up.rss, arrayBuffers: up.arrayBuffers } },
      download: { before: down.baseline, peakAbove: { rss: down.rss, arrayBuffers: down.arrayBuffers } }
    }
  }
}

export const run = async (options: { readonly quick: boolean }): Promise<GcsResult> => {
  const { child, url } = await startServer()
  try {
    const samples = options.quick ? 100 : 500
    return {
      quick: options.quick,
      server: "fake GCS server (packages/backend-gcs/src/testing), separate process, loopback",
      hit: await hit(url, samples),
      hitWithLatency: await hitWithLatency(options.quick ? 10 : 30),
      roundTrip: await roundTrip(url, options.quick ? 64 : 256)
    }
  } finally {
    child.kill()
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await run({ quick: process.argv.includes("--quick") }), null, 2))
}
