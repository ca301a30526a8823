/**
 * Local backend benchmarks, on a store filled with 1 KiB entries (100,000;
 * 10,000 with --quick):
 *
 * - hit: median latency of a cached step with a 1 KiB output, end to end in
 *   process (key, lookup, verify, decode) through `Step` + `Cache` + the
 *   local store, on random entries, measured alternating (blocks of 50 calls)
 *   with its floors: a synchronous
 *   open+read+close of a manifest file, an SQLite lookup by key, and
 *   `fs.promises.readFile`; plus the same step on the in-memory store (the
 *   share of the time spent in core);
 * - index reads: what recording the reads of a hit loop costs per read in
 *   the index of the full store (batches of 2,000 distinct random keys, a
 *   second of hits), as the index does it (appended to the log of reads,
 *   folded into the entries' rows every 50,000) against updating each
 *   entry's row in place as schema 2 did, on a copy of the same file with
 *   that schema's index on the last access; alternating batches;
 * - store: the cost of storing a 1 KiB entry durably (fsync), and without fsync;
 * - throughput: writing and reading 1 MiB and 256 MiB outputs (32 MiB with
 *   --quick) through a step, with peak memory for the large one.
 *
 * Run: `npx node bench/local.ts [--quick]` after `npx tsc -b tsconfig.build.json`
 * (plain Node resolves the workspace packages to their `dist/`), or all
 * benchmarks with `npm run bench`. Works in `bench/.work/local/`, removed at the end.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Cache, CacheStore, Manifest, type Recipe, Reproducibility, Step } from "@expops/core"
import { TestRecipes } from "@expops/core/testing"
import { Effect, Layer, Option, Schema } from "effect"
import { DatabaseSync } from "node:sqlite"
import { LocalBackend } from "@expops/backend-local"
import * as SqliteRecords from "@expops/backend-local/SqliteRecords"
import { median, MiB, round, sampleMemory } from "./harness.ts"

export interface LocalResult {
  readonly entries: number
  readonly quick: boolean
  readonly populate: { readonly unit: "us/entry"; readonly fsync: false; readonly median: number }
  readonly hit: {
    readonly unit: "us"
    readonly samples: number
    readonly step: Quantiles
    readonly memoryStoreStep: Quantiles
    readonly syncOpenReadClose: Quantiles
    readonly sqliteLookup: Quantiles
    readonly promisesReadFile: Quantiles
  }
  readonly indexReads: {
    readonly unit: "us/read"
    readonly batch: number
    readonly reads: number
    readonly appendAndFold: number
    readonly updateInPlace: number
  }
  readonly store1KiB: {
    readonly unit: "us"
    readonly stepMissDurable: number
    readonly stepMissNoFsync: number
    readonly putManifestDurable: number
    readonly putManifestNoFsync: number
  }
  readonly throughput: ReadonlyArray<Throughput>
}

interface Quantiles {
  readonly median: number
  readonly p90: number
  readonly p99: number
}

interface Throughput {
  readonly bytes: number
  readonly unit: "MB/s"
  readonly write: number
  readonly read: number
  /** Peak memory of the last round, above the level before each operation. */
  readonly peak?: {
    readonly unit: "MiB above the level before"
    readonly writeRss: number
    readonly readRss: number
    readonly writeArrayBuffers: number
    readonly readArrayBuffers: number
  }
}

const KiB = 1024

const quantiles = (us: ReadonlyArray<number>): Quantiles => {
  const sorted = us.slice().sort((a, b) => a - b)
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!)
  return { median: round(median(us)), p90: at(0.9), p99: at(0.99) }
}

/** A step with a 1 KiB output, different for each input. */
const payload = Step.make({
  name: "payload",
  input: Schema.Int,
  output: Schema.Struct({ id: Schema.Int, text: Schema.String }),
  run: (id) => Effect.succeed({ id, text: `${id}:`.padEnd(1000, "abcdefghij") })
})

const layerFor = (dir: string, fsync: boolean) =>
  Layer.provideMerge(Cache.layer(), Layer.merge(LocalBackend.layer(dir, { fsync }), Reproducibility.layer(1)))

const populate = (entries: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < entries; i++) {
      const start = performance.now()
      yield* payload(i)
      samples.push((performance.now() - start) * 1000)
    }
    return { unit: "us/entry" as const, fsync: false as const, median: round(median(samples)) }
  })

/** Hits of the step, alternating with the floors, on random entries of the full store. */
const hits = (dir: string, entries: number, samples: number) =>
  Effect.gen(function*() {
    // The floor: a lookup on a connection of its own to the same index file.
    const db = new DatabaseSync(LocalBackend.paths(dir).database, { readOnly: true })
    const store = yield* CacheStore.CacheStore
    // The file floors read copies of the manifests, one file per entry (the
    // store packs them, see docs/backends.md): what reading an entry costs
    // where each has a file of its own.
    const manifests: Array<string> = []
    for (const { key } of yield* store.listManifests) {
      const file = path.join(dir, "floor", key.slice(0, 2), key)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, Manifest.encode(Option.getOrThrow(yield* store.peekManifest(key))))
      manifests.push(file)
    }
    const lookup = db.prepare("SELECT key, size, last_access_at FROM cache_entries WHERE key = ?")
    const keys = manifests.map((f) => path.basename(f))
    const buffer = Buffer.allocUnsafe(64 * KiB)
    const pick = (n: number) => Math.floor(Math.random() * n)
    // Each manifest read once first: the first read of a file after its write
    // updates its access time, which the store's reads never do and the
    // floors' would (see bench/compare/hitOverhead.ts). Measured is the steady state.
    for (const file of manifests) fs.readFileSync(file)
    const step: Array<number> = []
    const sync: Array<number> = []
    const sqlite: Array<number> = []
    const promises: Array<number> = []
    // Alternate in blocks of BLOCK calls, rotating which contender goes first, so
    // each is measured in the same conditions (page cache, heap) as the others
    // without one call's leftovers (promises, timers) landing in the next's time.
    const BLOCK = 50
    for (let block = 0; block < samples / BLOCK; block++) {
      for (let k = 0; k < 4; k++) {
        const contender = (block + k) % 4
        for (let i = 0; i < BLOCK; i++) {
          if (contender === 0) {
            const id = pick(entries)
            const start = performance.now()
            yield* payload(id)
            step.push((performance.now() - start) * 1000)
          } else if (contender === 1) {
            const file = manifests[pick(manifests.length)]!
            const start = performance.now()
            const fd = fs.openSync(file, "r")
            fs.readSync(fd, buffer, 0, buffer.length, 0)
            fs.closeSync(fd)
            sync.push((performance.now() - start) * 1000)
          } else if (contender === 2) {
            const key = keys[pick(keys.length)]!
            const start = performance.now()
            lookup.get(key)
            sqlite.push((performance.now() - start) * 1000)
          } else {
            const file = manifests[pick(manifests.length)]!
            const start = performance.now()
            yield* Effect.promise(() => fs.promises.readFile(file))
            promises.push((performance.now() - start) * 1000)
          }
        }
      }
    }
    db.close()
    return { step: quantiles(step), syncOpenReadClose: quantiles(sync), sqliteLookup: quantiles(sqlite), promisesReadFile: quantiles(promises) }
  })

/** Recording reads in the index, the way it does (log + fold) and the way schema 2 did (update in place). */
const indexReads = (dir: string, batches: number) => {
  const BATCH = 2_000
  const file = LocalBackend.paths(dir).database
  const copy = `${file}.schema2`
  const now = new DatabaseSync(file)
  now.exec("PRAGMA wal_checkpoint(TRUNCATE)")
  fs.copyFileSync(file, copy)
  const before = new DatabaseSync(copy)
  before.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE INDEX IF NOT EXISTS cache_entries_by_access ON cache_entries (last_access_at)")
  const update = before.prepare("UPDATE cache_entries SET last_access_at = max(last_access_at, ?) WHERE key = ?")
  const keys = (now.prepare("SELECT key FROM cache_entries").all() as Array<{ key: string }>).map((r) => r.key)
  const pick = () => keys[Math.floor(Math.random() * keys.length)]!
  const batchOf = (at: number) => new Map(Array.from({ length: BATCH }, () => [pick(), at] as const))
  const timed = (f: () => void) => {
    const start = performance.now()
    f()
    return performance.now() - start
  }
  let appendMs = 0
  let updateMs = 0
  let reads = 0
  for (let b = 0; b < batches; b++) {
    const at = Date.now()
    const reading = batchOf(at)
    reads += reading.size
    const append = () => (appendMs += timed(() => SqliteRecords.recordReads(now, reading)))
    const inPlace = () => (updateMs += timed(() => {
      before.exec("BEGIN IMMEDIATE")
      for (const [key, when] of reading) update.run(when, key)
      before.exec("COMMIT")
    }))
    if (b % 2 === 0) append(), inPlace()
    else inPlace(), append()
  }
  now.close()
  before.close()
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(copy + suffix, { force: true })
  return {
    unit: "us/read" as const,
    batch: BATCH,
    reads,
    appendAndFold: round((appendMs * 1000) / reads),
    updateInPlace: round((updateMs * 1000) / reads)
  }
}

/** The same step on the in-memory store: what core costs without any I/O. */
const memoryHits = (entries: number, samples: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < entries; i++) yield* payload(i)
    const us: Array<number> = []
    for (let i = 0; i < samples; i++) {
      const id = Math.floor(Math.random() * entries)
      const start = performance.now()
      yield* payload(id)
      us.push((performance.now() - start) * 1000)
    }
    return quantiles(us)
  }).pipe(Effect.provide(Layer.provideMerge(Cache.layer(), Layer.merge(CacheStore.layerMemory, Reproducibility.layer(1)))))

/** Step misses that store a new 1 KiB entry, and bare `putManifest` calls of a ready 1 KiB manifest (the store encodes it). */
const storeCost = (dir: string, fsync: boolean, samples: number, firstId: number) =>
  Effect.gen(function*() {
    const miss: Array<number> = []
    for (let i = 0; i < samples; i++) {
      const start = performance.now()
      yield* payload(firstId + i)
      miss.push((performance.now() - start) * 1000)
    }
    const store = yield* CacheStore.CacheStore
    const recipe: Recipe.Recipe = TestRecipes.placeholder("bench")
    const put: Array<number> = []
    for (let i = 0; i < samples; i++) {
      const key = `${fsync ? "d" : "e"}${String(firstId + i).padStart(63, "0")}`
      const manifest = Manifest.make({ key, recipe, output: "x".repeat(KiB), blobs: [], createdAt: 0, durationMs: 0 })
      const start = performance.now()
      yield* store.putManifest(manifest)
      put.push((performance.now() - start) * 1000)
    }
    return { miss: round(median(miss)), put: round(median(put)) }
  }).pipe(Effect.provide(layerFor(dir, fsync)))

/**
 * Runs `effect` after a collection and samples memory meanwhile (the large
 * path is asynchronous, so the timer gets turns). Reports the peak above the
 * level before: what the operation itself held.
 */
const peakMemory = <E, R>(effect: Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const memory = sampleMemory(1)
    const start = performance.now()
    let peak = { rss: 0, arrayBuffers: 0 }
    yield* Effect.onExit(effect, () => Effect.sync(() => void (peak = memory.stop())))
    const ms = performance.now() - start
    return { ms, rss: peak.rss / MiB, arrayBuffers: peak.arrayBuffers / MiB }
  })

/** Writes (step miss) and reads (step hit) an output of `bytes`, with fsync. */
const throughput = (dir: string, bytes: number, rounds: number, measureMemory: boolean) =>
  Effect.gen(function*() {
    const blob = Step.make({
      name: `blob-${bytes}`,
      input: Schema.Int,
      output: Schema.Uint8Array,
      captures: { bytes },
      run: (seed) =>
        Effect.sync(() => {
          // Varied content, cheap to make: one 64 KiB pattern repeated.
          const out = new Uint8Array(bytes)
          const pattern = new Uint8Array(64 * KiB).map((_, i) => (i * 31 + seed) & 0xff)
          for (let at = 0; at < bytes; at += pattern.length) out.set(pattern.subarray(0, Math.min(pattern.length, bytes - at)), at)
          return out
        })
    })
    const write: Array<number> = []
    const read: Array<number> = []
    let peak: Throughput["peak"]
    for (let r = 0; r < rounds; r++) {
      // The miss includes making the output, encoding, hashing and the durable write;
      // the hit reading, verifying the digest and decoding.
      const written = yield* peakMemory(Effect.asVoid(blob(r)))
      const restored = yield* peakMemory(Effect.flatMap(blob(r), (out) =>
        out.byteLength === bytes ? Effect.void : Effect.die(new Error("read back a different size"))))
      write.push(written.ms)
      read.push(restored.ms)
      if (measureMemory && r === rounds - 1) {
        peak = {
          unit: "MiB above the level before",
          writeRss: round(written.rss),
          readRss: round(restored.rss),
          writeArrayBuffers: round(written.arrayBuffers),
          readArrayBuffers: round(restored.arrayBuffers)
        }
      }
    }
    const mbps = (ms: number) => round(bytes / 1e6 / (ms / 1000))
    return { bytes, unit: "MB/s" as const, write: mbps(median(write)), read: mbps(median(read)), ...(peak ? { peak } : {}) } satisfies Throughput
  }).pipe(Effect.provide(layerFor(dir, true)))

export const run = async (options: { readonly quick: boolean }): Promise<LocalResult> => {
  const entries = options.quick ? 10_000 : 100_000
  const samples = options.quick ? 2_000 : 20_000
  const work = path.join(import.meta.dirname, ".work", "local")
  fs.rmSync(work, { recursive: true, force: true })
  fs.mkdirSync(work, { recursive: true })
  try {
    const full = path.join(work, "full")
    const { hit, populated } = await Effect.runPromise(Effect.gen(function*() {
      const populated = yield* populate(entries)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1500))) // let the index write the new rows
      const hit = yield* hits(full, entries, samples)
      return { hit, populated }
    }).pipe(Effect.provide(layerFor(full, false))))
    // Enough batches for several folds of the log (one every 50,000 reads).
    const reads = indexReads(full, options.quick ? 30 : 100)
    const memoryStoreStep = await Effect.runPromise(memoryHits(Math.min(entries, 10_000), samples))
    const storeSamples = options.quick ? 100 : 500
    const durable = await Effect.runPromise(storeCost(full, true, storeSamples, entries))
    const fast = await Effect.runPromise(storeCost(full, false, storeSamples, entries + storeSamples))
    const sizes = options.quick ? [MiB, 32 * MiB] : [MiB, 256 * MiB]
    const results: Array<Throughput> = []
    for (const size of sizes) {
      const large = size > MiB
      results.push(await Effect.runPromise(throughput(path.join(work, `t${size}`), size, large ? 3 : 20, large)))
    }
    return {
      entries,
      quick: options.quick,
      populate: populated,
      hit: { unit: "us", samples, ...hit, memoryStoreStep },
      indexReads: reads,
      store1KiB: {
        unit: "us",
        stepMissDurable: durable.miss,
        stepMissNoFsync: fast.miss,
        putManifestDurable: durable.put,
        putManifestNoFsync: fast.put
      },
      throughput: results
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await run({ quick: process.argv.includes("--quick") }), null, 2))
}
