/**
 * The conformance suite every `CacheStore` implementation must pass. Call it
 * from a backend's tests with a layer that builds a fresh, empty store:
 *
 * ```ts
 * import { CacheStoreConformance } from "@expops/core/testing"
 * CacheStoreConformance.suite("local", () => LocalCacheStore.layer(tmpDir()))
 * ```
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Clock, Duration, Effect, type Layer, Option, Schema } from "effect"
import * as Cache from "../Cache.ts"
import { CacheStore } from "../CacheStore.ts"
import * as TestRecipes from "./TestRecipes.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

const recipe = (name: string) => TestRecipes.placeholder(name)

/**
 * Runs `effect` with a clock that fails at the first sleep instead of
 * waiting. Tests written with `it.effect` run on the `TestClock`, which only
 * moves when the test advances it: a store that sleeps there (a retry
 * backoff, most often) would hang until the test's timeout without a word.
 * Under this guard it fails at once, saying so. The suite runs every test
 * under it; backends use it in their own `it.effect` tests of single
 * requests.
 *
 * @since 0.1.0
 */
export const failOnSleep = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Clock.clockWith((clock) =>
    Effect.provideService(effect, Clock.Clock, {
      ...clock,
      sleep: (duration) =>
        Effect.die(
          new Error(
            `the store slept ${Math.round(Duration.toMillis(duration) * 1000) / 1000} ms on the test clock, which only moves when a test ` +
              "advances it, so this test would hang until its timeout. A store should not wait during a single fault-free " +
              "operation: if it retries here, it took an error for transient (its debug log names it). Tests of retries " +
              "need it.live, or a TestClock that the test advances."
          )
        )
    }))

/**
 * Registers the suite. `makeLayer` is called once per test so each test gets
 * an empty store.
 *
 * @since 0.1.0
 */
export const suite = <E>(name: string, makeLayer: () => Layer.Layer<CacheStore, E>): void => {
  const run = <A, E2>(effect: Effect.Effect<A, E2, CacheStore>) =>
    Effect.provide(failOnSleep(effect), makeLayer()) as Effect.Effect<A, E | E2>

  describe(`CacheStore conformance: ${name}`, () => {
    it.effect("a missing manifest or blob is none, not an error", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        assert.isTrue(Option.isNone(yield* store.getManifest("0".repeat(64))))
        assert.isTrue(Option.isNone(yield* store.getBlob("1".repeat(64))))
        assert.isFalse(yield* store.hasBlob("1".repeat(64)))
      })))

    it.effect("stores and returns manifests byte for byte", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const data = bytes("manifest body \u00e9\n")
        assert.isTrue(yield* store.putManifest("a".repeat(64), data))
        const read = yield* store.getManifest("a".repeat(64))
        assert.deepStrictEqual(Option.getOrThrow(read), data)
      })))

    it.effect("manifests are write-once: the first writer wins", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const key = "b".repeat(64)
        assert.isTrue(yield* store.putManifest(key, bytes("first")))
        assert.isFalse(yield* store.putManifest(key, bytes("second")))
        assert.strictEqual(new TextDecoder().decode(Option.getOrThrow(yield* store.getManifest(key))), "first")
      })))

    it.effect("concurrent writers of one manifest: exactly one wins", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const key = "c".repeat(64)
        const results = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => store.putManifest(key, bytes(`writer ${i}`)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter((won) => won).length, 1)
        const text = new TextDecoder().decode(Option.getOrThrow(yield* store.getManifest(key)))
        assert.strictEqual(text, `writer ${results.indexOf(true)}`)
      })))

    it.effect("blobs are content-addressed and idempotent", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const data = new Uint8Array(100_000).map((_, i) => i % 251)
        const digest = sha(data)
        yield* store.putBlob(digest, data)
        yield* store.putBlob(digest, data)
        assert.isTrue(yield* store.hasBlob(digest))
        assert.deepStrictEqual(Option.getOrThrow(yield* store.getBlob(digest)), data)
        const listed = (yield* store.listBlobs).filter((b) => b.digest === digest)
        assert.deepStrictEqual(listed, [{ digest, size: data.byteLength }])
      })))

    it.effect("a stored buffer is not affected by later mutation of the caller's copy", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const data = bytes("immutable")
        const digest = sha(data)
        yield* store.putBlob(digest, data)
        data[0] = 0
        assert.strictEqual(new TextDecoder().decode(Option.getOrThrow(yield* store.getBlob(digest))), "immutable")
      })))

    it.effect("lists, deletes and quarantines", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        yield* store.putManifest("d".repeat(64), bytes("d"))
        yield* store.putManifest("e".repeat(64), bytes("ee"))
        const listed = (yield* store.listManifests).map((m) => [m.key, m.size]).sort()
        assert.deepStrictEqual(listed, [["d".repeat(64), 1], ["e".repeat(64), 2]])
        yield* store.deleteManifest("d".repeat(64))
        assert.isTrue(Option.isNone(yield* store.getManifest("d".repeat(64))))
        yield* store.quarantineManifest("e".repeat(64), "test")
        assert.isTrue(Option.isNone(yield* store.getManifest("e".repeat(64))))
        assert.deepStrictEqual(yield* store.listManifests, [])
        // The quarantined key can be written again.
        assert.isTrue(yield* store.putManifest("e".repeat(64), bytes("new")))
        const blob = bytes("blob")
        yield* store.putBlob(sha(blob), blob)
        yield* store.quarantineBlob(sha(blob), "test")
        assert.isFalse(yield* store.hasBlob(sha(blob)))
        yield* store.putBlob(sha(blob), blob)
        yield* store.deleteBlob(sha(blob))
        assert.isFalse(yield* store.hasBlob(sha(blob)))
      })))

    it.effect("deleting what does not exist is not an error", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        yield* store.deleteManifest("f".repeat(64))
        yield* store.deleteBlob("f".repeat(64))
      })))

    it.effect("round-trips entries through the Cache service, blobs included", () =>
      run(Effect.gen(function*() {
        const cache = yield* Cache.make()
        const schema = Schema.Struct({ label: Schema.String, weights: Schema.instanceOf(Float64Array) })
        const weights = Float64Array.from({ length: 10_000 }, (_, i) => Math.sin(i))
        yield* cache.save(recipe("fit"), "9".repeat(64), schema, { label: "w", weights }, 12)
        const hit = Option.getOrThrow(yield* cache.lookup("9".repeat(64), schema))
        assert.strictEqual(hit.value.label, "w")
        assert.deepStrictEqual(Array.from(hit.value.weights), Array.from(weights))
        assert.strictEqual(hit.manifest.durationMs, 12)
        assert.strictEqual(hit.manifest.blobs.length, 1)
      })))

    it.effect("a corrupt manifest is a miss, moved aside, and can be rewritten", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const cache = yield* Cache.make()
        const key = "8".repeat(64)
        assert.isTrue(yield* store.putManifest(key, bytes("not a manifest")))
        assert.isTrue(Option.isNone(yield* cache.lookup(key, Schema.String)))
        assert.isTrue(Option.isNone(yield* store.getManifest(key)))
        yield* cache.save(recipe("s"), key, Schema.String, "ok", 1)
        assert.strictEqual(Option.getOrThrow(yield* cache.lookup(key, Schema.String)).value, "ok")
      })))
  })
}
