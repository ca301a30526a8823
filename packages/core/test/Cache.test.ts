import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect, Fiber, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Cache, CacheStore, CodeParts, Reproducibility, Step } from "@expops/core"
import { CacheStoreConformance } from "@expops/core/testing"

CacheStoreConformance.suite("memory", () => CacheStore.layerMemory, {
  corruptManifest: (key) =>
    Effect.gen(function*() {
      const { manifests } = (yield* CacheStore.CacheStore) as ReturnType<typeof CacheStore.makeMemory>
      const bytes = manifests.get(key)!.slice()
      bytes[bytes.length - 3]! ^= 1
      manifests.set(key, bytes)
    })
})

/** A memory store the test can reach into, with the cache over it. */
const setup = Effect.gen(function*() {
  const store = CacheStore.makeMemory()
  const layer = Layer.merge(
    Cache.layer().pipe(Layer.provide(Layer.succeed(CacheStore.CacheStore, store))),
    Reproducibility.layer(1)
  )
  const counter = { runs: 0 }
  const weights = Step.make({
    name: "weights",
    input: Schema.Int,
    output: Schema.Struct({ label: Schema.String, w: Schema.instanceOf(Float64Array) }),
    run: function*(n) {
      counter.runs++
      return { label: `n=${n}`, w: Float64Array.from({ length: n }, (_, i) => i) }
    }
  })
  const call = (n: number) => Effect.provide(weights(n), layer)
  return { store, call, runs: () => counter.runs }
})

const flip = (bytes: Uint8Array, at: number) => {
  const copy = bytes.slice()
  copy[at] = copy[at]! ^ 0xff
  return copy
}

describe("Cache", () => {
  it.effect("a store that hashes blobs as it writes and reads them names each blob of an output by its digest, in order", () =>
    Effect.gen(function*() {
      const memory = CacheStore.makeMemory()
      const calls = { hashAndPut: 0, getHashed: 0 }
      const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
      const store: CacheStore.Shape = {
        ...memory,
        hashAndPutBlob: (bytes) => {
          calls.hashAndPut++
          return Effect.as(memory.putBlob(sha(bytes), bytes), sha(bytes))
        },
        getBlobHashed: (digest) => {
          calls.getHashed++
          return Effect.map(memory.getBlob(digest), Option.map((bytes) => ({ bytes, sha256: sha(bytes) })))
        }
      }
      const layer = Layer.merge(Cache.layer().pipe(Layer.provide(Layer.succeed(CacheStore.CacheStore, store))), Reproducibility.layer(1))
      const part = (seed: number) => new Uint8Array(10_000).map((_, i) => (i * seed) % 251)
      const runs = { count: 0 }
      const parts = Step.make({
        name: "parts",
        input: Schema.Int,
        output: Schema.Struct({ a: Schema.Uint8Array, b: Schema.Array(Schema.Uint8Array), small: Schema.Uint8Array }),
        run: function*(n) {
          runs.count++
          const a = part(n)
          return { a, b: [part(n + 1), a, part(n + 2)], small: new Uint8Array([1, 2, 3]) }
        }
      })
      const stored = yield* Effect.provide(parts(3), layer)
      const served = yield* Effect.provide(parts(3), layer)
      assert.strictEqual(runs.count, 1)
      assert.deepStrictEqual(served, stored)
      assert.deepStrictEqual(served.b.map((b) => b[1]), [4, 3, 5])
      // Each blob-sized part went through the store's hashing write; the hit read them through its hashing read.
      assert.strictEqual(calls.hashAndPut, 4)
      assert.isAtLeast(calls.getHashed, 3)
      const listed = yield* memory.listManifests
      const manifest = Option.getOrThrow(yield* memory.peekManifest(listed[0]!.key))
      assert.deepStrictEqual(manifest.blobs.map((b) => b.digest), [part(3), part(4), part(3), part(5)].map(sha))
      // Apart from the output's: the step's code parts (read by `explain` only, never by the hit).
      assert.strictEqual(manifest.codeParts?.digest, CodeParts.encode(parts.codeParts).digest)
    }))

  it.effect("a manifest with a flipped byte is recomputed, not served, and moved aside", () =>
    Effect.gen(function*() {
      const { call, runs, store } = yield* setup
      const first = yield* call(1000)
      const [key, bytes] = [...store.manifests][0]!
      store.manifests.set(key, flip(bytes, bytes.byteLength - 10))
      const second = yield* call(1000)
      assert.strictEqual(runs(), 2)
      assert.deepStrictEqual(Array.from(second.w), Array.from(first.w))
      assert.match(store.quarantined[0]!, /checksum mismatch/)
      // The recomputed entry replaced it and is served.
      yield* call(1000)
      assert.strictEqual(runs(), 2)
    }))

  it.effect("a truncated manifest is a miss", () =>
    Effect.gen(function*() {
      const { call, runs, store } = yield* setup
      yield* call(1000)
      const [key, bytes] = [...store.manifests][0]!
      store.manifests.set(key, bytes.slice(0, 40))
      yield* call(1000)
      assert.strictEqual(runs(), 2)
      assert.match(store.quarantined[0]!, /truncated/)
    }))

  it.effect("a corrupt blob is a miss; the blob and its manifest are moved aside", () =>
    Effect.gen(function*() {
      const { call, runs, store } = yield* setup
      yield* call(1000)
      const [digest, bytes] = [...store.blobs][0]!
      store.blobs.set(digest, flip(bytes, 100))
      const second = yield* call(1000)
      assert.strictEqual(runs(), 2)
      assert.strictEqual(second.w[999], 999)
      assert.strictEqual(store.quarantined.length, 2)
      assert.match(store.quarantined.join("\n"), /blob .*digest mismatch/)
    }))

  it.effect("a missing blob is a miss", () =>
    Effect.gen(function*() {
      const { call, runs, store } = yield* setup
      yield* call(1000)
      store.blobs.clear()
      yield* call(1000)
      assert.strictEqual(runs(), 2)
      assert.match(store.quarantined[0]!, /missing blob/)
    }))

  it.effect("a manifest stored under the wrong key is not served", () =>
    Effect.gen(function*() {
      const { call, runs, store } = yield* setup
      yield* call(1000)
      yield* call(2000)
      const [[k1, m1], [k2, m2]] = [...store.manifests]
      store.manifests.set(k1!, m2!)
      store.manifests.set(k2!, m1!)
      const out = yield* call(1000)
      assert.strictEqual(out.label, "n=1000")
      assert.strictEqual(runs(), 3)
    }))

  it.effect("a store failure on write is an error naming the operation and location", () =>
    Effect.gen(function*() {
      const failing: CacheStore.Shape = {
        ...CacheStore.makeMemory(),
        putManifest: ({ key }) =>
          Effect.fail(new CacheStore.CacheStoreError({ backend: "memory", operation: "write manifest", location: key, reason: "no space left on device" }))
      }
      const layer = Cache.layer().pipe(Layer.provide(Layer.succeed(CacheStore.CacheStore, failing)))
      const step = Step.make({ name: "s", input: Schema.Finite, output: Schema.Finite, run: (x) => Effect.succeed(x) })
      const error = yield* Effect.flip(Effect.provide(step(1), layer))
      assert.strictEqual(error._tag, "CacheStoreError")
      assert.match(error.message, /memory cache: could not write manifest at [0-9a-f]{64}: no space left on device/)
    }))

  it.effect("an output that cannot be encoded is an error naming the step and the path", () =>
    Effect.gen(function*() {
      const step = Step.make({
        name: "leaky",
        input: Schema.Finite,
        output: Schema.Struct({ model: Schema.Unknown }),
        run: () => Effect.succeed({ model: { predict: () => 1 } })
      })
      const error = yield* Effect.flip(Effect.provide(step(1), Cache.layerMemory()))
      assert.match(error.message, /step leaky: cannot encode its output at \.model\.predict: found a function/)
    }))

  /** A step that takes 50 ms and doubles its input, counting its runs. */
  const makeSlow = () => {
    const counter = { runs: 0 }
    const slow = Step.make({
      name: "slow",
      input: Schema.Finite,
      output: Schema.Finite,
      run: function*(x) {
        counter.runs++
        yield* Effect.sleep("50 millis")
        return x * 2
      }
    })
    return { slow, counter }
  }

  // On the test clock: the 5 ms timeouts and the step's 50 ms pass when the test says so.
  it.effect("an interrupted computation frees its key: the next call computes", () =>
    Effect.gen(function*() {
      const { counter, slow } = makeSlow()
      const first = yield* Effect.forkChild(slow(1).pipe(Effect.timeoutOption("5 millis")))
      yield* TestClock.adjust("5 millis")
      assert.isTrue((yield* Fiber.join(first))._tag === "None")
      const second = yield* Effect.forkChild(slow(1).pipe(Effect.timeoutOption("5 seconds")))
      yield* TestClock.adjust("50 millis")
      const answer = yield* Fiber.join(second)
      assert.deepStrictEqual(answer._tag === "Some" ? answer.value : undefined, 2)
      assert.strictEqual(counter.runs, 2)
    }).pipe(Effect.provide(Cache.layerMemory())))

  it.effect("a call waiting on a computation that is interrupted computes for itself", () =>
    Effect.gen(function*() {
      const { counter, slow } = makeSlow()
      const both = yield* Effect.forkChild(Effect.all([
        slow(1).pipe(Effect.timeoutOption("5 millis")),
        // Starts while the first computes: it waits on that computation, which is then interrupted.
        Effect.sleep("1 millis").pipe(Effect.andThen(slow(1)))
      ], { concurrency: "unbounded" }))
      // 1 ms: the waiter joins; 5 ms: the first is interrupted; 55 ms: the waiter's own computation ends.
      yield* TestClock.adjust("1 second")
      const [interrupted, waiter] = yield* Fiber.join(both)
      assert.strictEqual(interrupted._tag, "None")
      assert.strictEqual(waiter, 2)
      assert.strictEqual(counter.runs, 2)
    }).pipe(Effect.provide(Cache.layerMemory())))

  it.effect("a miss returns what a later hit returns: the output as its schema decodes it", () =>
    Effect.gen(function*() {
      const Output = Schema.Struct({ a: Schema.Finite })
      const withExtra = { a: 1, debug: "not in the schema" }
      const step = Step.make({ name: "extra", input: Schema.Finite, output: Output, run: () => Effect.succeed(withExtra) })
      const miss = yield* step(1)
      const hit = yield* step(1)
      assert.deepStrictEqual(miss, { a: 1 })
      assert.deepStrictEqual(hit, miss)
    }).pipe(Effect.provide(Cache.layerMemory())))

  it.effect("with the cache off, the output is still what its schema decodes", () =>
    Effect.gen(function*() {
      const step = Step.make({
        name: "extra",
        input: Schema.Finite,
        output: Schema.Struct({ a: Schema.Finite }),
        run: () => Effect.succeed({ a: 1, debug: "x" })
      })
      assert.deepStrictEqual(yield* step(1), { a: 1 })
    }).pipe(Effect.provide(Cache.layerMemory({ mode: "off" }))))
})
