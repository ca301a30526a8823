/**
 * Comparison 1: the cost of a cache hit per step, 1 KiB output, on a local
 * store holding many entries (100,000; fewer in quick mode).
 *
 * Contenders, each over its own store of the same entries in bench/.work/:
 * - expops: a cached `Step` called inside a running program, through core
 *   `Cache` over `@expops/backend-local` (the layer the CLI uses): key,
 *   lookup, checksum verification, decode;
 * - persistedCache: Effect's `PersistedCache` over `Persistence.layerKvs` and
 *   `KeyValueStore.layerFileSystem`, its in-memory layer disabled (TTL 0) so
 *   that every lookup reads the file store, as the others do;
 * - cacache: npm's content-addressable cache, `cacache.get` + `JSON.parse`;
 * - joblib: `joblib.Memory` in Python (its own clock, its own process);
 * - floors: a synchronous open+read+close of a file holding a random
 *   manifest of the ExpOps store (one file per entry, as the store kept
 *   them before it packed them, and as joblib keeps its entries), and
 *   `fs.promises.readFile` of the same files; and what the packed store's
 *   own read costs, a `pread` of the same bytes from one open file;
 * - breakdown of the ExpOps figure: the same step over core's in-memory
 *   store (key, verification and decoding without disk), and the local
 *   store's `getManifest` alone (the disk part, with the manifest's check).
 *
 * Every file of every store is read once before the rounds, so that no
 * contender pays for updating access times on a first read.
 * Every round asks each contender for the same random keys; each contender
 * reports the median of its per-call times; the figure is the median over
 * rounds. A contender that computes instead of hitting is an error.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs"
import { readFile } from "node:fs/promises"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Cache, CacheStore, Manifest, Reproducibility, Step } from "@expops/core"
import { LocalBackend, LocalCacheStore } from "@expops/backend-local"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Option, Schema, Scope } from "effect"
import { KeyValueStore, PersistedCache, Persistable, Persistence } from "effect/persistence"
// @ts-ignore: cacache ships no types
import cacache from "cacache"
import { median, round } from "../harness.ts"
import { alternate, keysForRound, log } from "./alternate.ts"
import type { Joblib } from "./python.ts"

export interface HitOverheadResult {
  readonly unit: "us"
  readonly entries: number
  readonly callsPerRound: number
  readonly rounds: number
  readonly expops: number
  readonly joblib: number | null
  readonly persistedCache: number
  readonly cacache: number
  readonly floorSyncRead: number
  /** A `pread` of a manifest's bytes from one file holding them all: what reading a packed entry costs. */
  readonly floorPread: number
  readonly fsPromisesReadFile: number
  readonly expopsMemoryStore: number
  readonly expopsStoreRead: number
  /** joblib's time over ExpOps's (target: at least 6). */
  readonly joblibOverExpops: number | null
  readonly persistedCacheOverExpops: number
  readonly cacacheOverExpops: number
  readonly expopsOverFloor: number
  readonly buildSeconds: Record<string, number>
  readonly versions: Record<string, string>
  readonly notes: ReadonlyArray<string>
}

/** 1 KiB, distinct per entry; the same string joblib_server.py stores. */
const payload = (i: number): string => String(i).padStart(8, "0").repeat(128)

const Output = Schema.Struct({ id: Schema.Int, payload: Schema.String })

let bodyRuns = 0
const echo = Step.make({
  name: "echo",
  input: Schema.Int,
  output: Output,
  run: (id) => Effect.sync(() => {
    bodyRuns++
    return { id, payload: payload(id) }
  })
})

class Echo extends Persistable.Class<{ payload: { readonly id: number } }>()("Echo", {
  primaryKey: ({ id }) => `echo-${id}`,
  success: Output
}) {}

const expopsLayer = (dir: string, fsync: boolean) =>
  Layer.mergeAll(
    Layer.provideMerge(Cache.layer(), LocalBackend.layer(dir, { fsync })),
    Reproducibility.layer(42)
  )

/** Runs `calls` inside one program and answers the median per-call time in microseconds. */
const timedLoop = <E, R>(keys: ReadonlyArray<number>, call: (k: number) => Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    const samples = new Array<number>(keys.length)
    for (let i = 0; i < keys.length; i++) {
      const start = performance.now()
      yield* call(keys[i]!)
      samples[i] = (performance.now() - start) * 1000
    }
    return median(samples)
  })

const buildExpops = async (dir: string, entries: number) => {
  // fsync off while filling: durability is not what is measured here, and
  // 100,000 fsyncs would dominate the run. Hits are then read through a
  // fresh layer with the default options.
  const runtime = ManagedRuntime.make(expopsLayer(dir, false))
  await runtime.runPromise(Effect.gen(function*() {
    for (let i = 0; i < entries; i++) yield* echo(i)
  }))
  await runtime.dispose()
}

const persistedLayer = (dir: string) =>
  Persistence.layerKvs.pipe(
    Layer.provide(KeyValueStore.layerFileSystem(dir)),
    Layer.provide(NodeServices.layer)
  )

const makePersisted = async (dir: string) => {
  let lookups = 0
  const scope = Scope.makeUnsafe()
  const runtime = ManagedRuntime.make(persistedLayer(dir))
  const cache = await runtime.runPromise(
    PersistedCache.make((request: Echo) => Effect.sync(() => {
      lookups++
      return { id: request.id, payload: payload(request.id) }
    }), {
      storeId: "echo",
      timeToLive: () => "1000 days",
      inMemoryTTL: () => 0
    }).pipe(Scope.provide(scope))
  )
  return { runtime, cache, lookups: () => lookups, close: () => runtime.dispose() }
}

const pool = async (count: number, concurrency: number, f: (i: number) => Promise<unknown>) => {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await f(next++)
  }))
}

const readEveryFile = (dir: string): void => {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) readFileSync(path.join(entry.parentPath, entry.name))
  }
}

/**
 * Copies of the manifests of the ExpOps store, read through it, for the
 * floors: each in a file of its own (`floorDir/ab/<key>`), sorted by key,
 * and all of them in one file with their places in it.
 */
const floorFiles = async (storeDir: string, floorDir: string) => {
  const runtime = ManagedRuntime.make(LocalCacheStore.layerWithoutIndex(path.join(storeDir, ".expops", "cache"), { packOnClose: 0 }))
  const manifests = await runtime.runPromise(Effect.gen(function*() {
    const store = yield* CacheStore.CacheStore
    const out: Array<{ readonly key: string; readonly bytes: Uint8Array }> = []
    for (const { key } of yield* store.listManifests) {
      out.push({ key, bytes: Manifest.encode(Option.getOrThrow(yield* store.peekManifest(key))) })
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1))
  }))
  await runtime.dispose()
  const files = manifests.map(({ bytes, key }) => {
    const file = path.join(floorDir, key.slice(0, 2), key)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, bytes)
    return file
  })
  const packed = path.join(floorDir, "all")
  writeFileSync(packed, Buffer.concat(manifests.map((m) => m.bytes)))
  let at = 0
  const places = manifests.map(({ bytes }) => {
    const place = { at, length: bytes.byteLength }
    at += bytes.byteLength
    return place
  })
  return { files, keys: manifests.map((m) => m.key), packed, places }
}

export const run = async (options: {
  readonly quick: boolean
  readonly workDir: string
  readonly joblib: Joblib
}): Promise<HitOverheadResult> => {
  const entries = options.quick ? 10_000 : 100_000
  const calls = options.quick ? 500 : 2_000
  const rounds = options.quick ? 5 : 9
  const notes: Array<string> = []
  if (options.quick) notes.push(`quick mode: stores of ${entries} entries, not 100,000`)
  const base = path.join(options.workDir, "hit-overhead")
  rmSync(base, { recursive: true, force: true })
  const dirs = {
    expops: path.join(base, "expops"),
    persistedCache: path.join(base, "persisted-cache"),
    cacache: path.join(base, "cacache"),
    joblib: path.join(base, "joblib"),
    floor: path.join(base, "floor")
  }
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true })
  const buildSeconds: Record<string, number> = {}
  const versions: Record<string, string> = {}

  // joblib builds its store in its own process while Node builds the others.
  const server = options.joblib.server
  let joblibBuild: Promise<unknown> | undefined
  if (server !== undefined) {
    Object.assign(versions, options.joblib.versions)
    log(`hit overhead: joblib builds ${entries} entries in the background`)
    joblibBuild = server.send<{ seconds: number; computed: number }>({ cmd: "build_memory", dir: dirs.joblib, entries })
      .then((r) => {
        buildSeconds.joblib = round(r.seconds)
      })
  } else {
    notes.push(`joblib unavailable: ${options.joblib.reason}`)
  }

  {
    log(`hit overhead: building the ExpOps store (${entries} entries)`)
    let start = performance.now()
    await buildExpops(dirs.expops, entries)
    buildSeconds.expops = round((performance.now() - start) / 1000)

    log(`hit overhead: building the PersistedCache store`)
    const persisted = await makePersisted(dirs.persistedCache)
    start = performance.now()
    await persisted.runtime.runPromise(
      Effect.forEach(Array.from({ length: entries }, (_, i) => i), (id) => persisted.cache.get(new Echo({ id })), {
        concurrency: 16,
        discard: true
      })
    )
    buildSeconds.persistedCache = round((performance.now() - start) / 1000)

    log(`hit overhead: building the cacache store`)
    start = performance.now()
    await pool(entries, 16, (i) => cacache.put(dirs.cacache, `echo-${i}`, JSON.stringify({ id: i, payload: payload(i) })))
    buildSeconds.cacache = round((performance.now() - start) / 1000)
    versions.cacache = JSON.parse(readFileSync(path.join(import.meta.dirname, "../../node_modules/cacache/package.json"), "utf8")).version

    if (joblibBuild !== undefined) {
      log("hit overhead: waiting for joblib's store")
      await joblibBuild
    }

    const floor = await floorFiles(dirs.expops, dirs.floor)
    const files = floor.files
    if (files.length < entries) throw new Error(`the ExpOps store holds ${files.length} manifests, expected ${entries}`)
    // Every file of every store read once, before the rounds: the first read
    // of a file after it was written updates its access time, and would
    // charge whichever contender happens to read it first (ExpOps's own reads
    // never update it, see docs/backends.md). Measured is the steady state.
    log("hit overhead: reading every stored file once")
    for (const dir of Object.values(dirs)) readEveryFile(dir)

    const expops = ManagedRuntime.make(expopsLayer(dirs.expops, true))
    const storeOnly = ManagedRuntime.make(LocalBackend.layer(dirs.expops))
    const manifestKeys = floor.keys
    const packedFd = openSync(floor.packed, "r")
    const preadInto = new Uint8Array(16 * 1024)
    // The in-memory store holds only the entries the rounds will ask for.
    const memory = ManagedRuntime.make(Layer.merge(Cache.layerMemory(), Reproducibility.layer(42)))
    const used = new Set<number>()
    for (let r = -1; r < rounds; r++) for (const k of keysForRound(r, calls, entries)) used.add(k)
    await memory.runPromise(Effect.forEach(used, (k) => echo(k), { discard: true }))
    const persistedLookupsBefore = persisted.lookups()
    bodyRuns = 0
    log(`hit overhead: ${rounds} rounds of ${calls} hits per contender`)
    const contenders = {
      expops: (r: number) => expops.runPromise(timedLoop(keysForRound(r, calls, entries), (k) => echo(k))),
      expopsMemoryStore: (r: number) => memory.runPromise(timedLoop(keysForRound(r, calls, entries), (k) => echo(k))),
      expopsStoreRead: (r: number) =>
        storeOnly.runPromise(Effect.gen(function*() {
          const store = yield* CacheStore.CacheStore
          return yield* timedLoop(keysForRound(r, calls, entries), (k) => store.getManifest(manifestKeys[k]!))
        })),
      persistedCache: (r: number) =>
        persisted.runtime.runPromise(timedLoop(keysForRound(r, calls, entries), (id) => persisted.cache.get(new Echo({ id })))),
      cacache: async (r: number) => {
        const samples: Array<number> = []
        for (const k of keysForRound(r, calls, entries)) {
          const start = performance.now()
          const { data } = await cacache.get(dirs.cacache, `echo-${k}`)
          const value = JSON.parse(data.toString("utf8"))
          samples.push((performance.now() - start) * 1000)
          if (value.id !== k) throw new Error(`cacache returned the wrong entry for ${k}`)
        }
        return median(samples)
      },
      floorSyncRead: (r: number) => {
        const samples: Array<number> = []
        for (const k of keysForRound(r, calls, entries)) {
          const start = performance.now()
          readFileSync(files[k]!)
          samples.push((performance.now() - start) * 1000)
        }
        return median(samples)
      },
      floorPread: (r: number) => {
        const samples: Array<number> = []
        for (const k of keysForRound(r, calls, entries)) {
          const start = performance.now()
          const { at, length } = floor.places[k]!
          readSync(packedFd, preadInto, 0, length, at)
          samples.push((performance.now() - start) * 1000)
        }
        return median(samples)
      },
      fsPromisesReadFile: async (r: number) => {
        const samples: Array<number> = []
        for (const k of keysForRound(r, calls, entries)) {
          const start = performance.now()
          await readFile(files[k]!)
          samples.push((performance.now() - start) * 1000)
        }
        return median(samples)
      },
      ...(server !== undefined
        ? {
          joblib: async (r: number) => {
            const answer = await server!.send<{ medianUs: number; misses: number }>({ cmd: "hits", keys: keysForRound(r, calls, entries) })
            if (answer.misses > 0) throw new Error(`joblib computed ${answer.misses} entries that should have been hits`)
            return answer.medianUs
          }
        }
        : {})
    }
    const result = await alternate(contenders as Record<string, (r: number) => Promise<number> | number>, rounds)
    closeSync(packedFd)
    await expops.dispose()
    await storeOnly.dispose()
    await memory.dispose()
    await persisted.close()
    if (bodyRuns > 0) throw new Error(`the ExpOps step ran its body ${bodyRuns} times: hits expected`)
    if (persisted.lookups() > persistedLookupsBefore) {
      throw new Error(`PersistedCache computed ${persisted.lookups() - persistedLookupsBefore} entries: hits expected`)
    }
    const m = result.median
    const joblib = m.joblib ?? null
    return {
      unit: "us",
      entries,
      callsPerRound: calls,
      rounds,
      expops: round(m.expops!),
      joblib: joblib === null ? null : round(joblib),
      persistedCache: round(m.persistedCache!),
      cacache: round(m.cacache!),
      floorSyncRead: round(m.floorSyncRead!),
      floorPread: round(m.floorPread!),
      fsPromisesReadFile: round(m.fsPromisesReadFile!),
      expopsMemoryStore: round(m.expopsMemoryStore!),
      expopsStoreRead: round(m.expopsStoreRead!),
      joblibOverExpops: joblib === null ? null : round(joblib / m.expops!),
      persistedCacheOverExpops: round(m.persistedCache! / m.expops!),
      cacacheOverExpops: round(m.cacache! / m.expops!),
      expopsOverFloor: round(m.expops! / m.floorSyncRead!),
      buildSeconds,
      versions,
      notes
    }
  }
}
