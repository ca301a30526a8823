/**
 * The conformance suite every `CacheStore` implementation must pass. Call it
 * from a backend's tests with a layer that builds a fresh, empty store:
 *
 * ```ts
 * import { CacheStoreConformance } from "@expops/core/testing"
 * CacheStoreConformance.suite("local", () => LocalCacheStore.layer(tmpDir()), {
 *   corruptManifest: (key) => ... // flip a byte of what the store holds for `key`
 * })
 * ```
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Cache from "../Cache.ts"
import { CacheStore } from "../CacheStore.ts"
import * as Manifest from "../Manifest.ts"
import * as TestRecipes from "./TestRecipes.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

const recipe = (name: string) => TestRecipes.placeholder(name)
const manifest = TestRecipes.manifest

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

/** Reads until something is there, yielding between reads (never sleeping: the suite runs on the test clock). */
const pollUntilSome = <A, E>(read: Effect.Effect<Option.Option<A>, E>): Effect.Effect<Option.Option<A>, E> =>
  Effect.flatMap(read, (found) => Option.isSome(found) ? Effect.succeed(found) : Effect.andThen(Effect.yieldNow, pollUntilSome(read)))

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * Damages what the store holds for `key` behind its back (a flipped byte
   * in the stored manifest), with the store in context. Backends verify
   * manifests on read, so every backend should give one; without it the
   * corruption test is not registered.
   */
  readonly corruptManifest?: ((key: string) => Effect.Effect<void, unknown, CacheStore>) | undefined
}

/**
 * Registers the suite. `makeLayer` is called once per test so each test gets
 * an empty store.
 *
 * @since 0.1.0
 */
export const suite = <E>(name: string, makeLayer: () => Layer.Layer<CacheStore, E>, options?: Options): void => {
  const run = <A, E2>(effect: Effect.Effect<A, E2, CacheStore>) =>
    Effect.provide(failOnSleep(effect), makeLayer()) as Effect.Effect<A, E | E2>

  describe(`CacheStore conformance: ${name}`, () => {
    it.effect("a missing manifest or blob is none, not an error", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        assert.isTrue(Option.isNone(yield* store.getManifest("0".repeat(64))))
        assert.isTrue(Option.isNone(yield* store.peekManifest("0".repeat(64))))
        assert.isTrue(Option.isNone(yield* store.getBlob("1".repeat(64))))
      })))

    it.effect("returns manifests as they were stored, to a read and to a peek", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const stored = manifest("a".repeat(64), { output: { text: "manifest body \u00e9\n", n: [1, 2.5, null] }, createdAt: 7, durationMs: 3.25 })
        assert.isTrue(yield* store.putManifest(stored))
        assert.deepStrictEqual(Manifest.toPlain(Option.getOrThrow(yield* store.peekManifest(stored.key))), stored)
        assert.deepStrictEqual(Manifest.toPlain(Option.getOrThrow(yield* store.getManifest(stored.key))), stored)
        assert.deepStrictEqual(Manifest.toPlain(Option.getOrThrow(yield* store.peekManifest(stored.key))), stored)
      })))

    it.effect("a peek changes nothing: what is listed and read stays the same", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const cache = yield* Cache.make()
        const schema = Schema.Struct({ weights: Schema.instanceOf(Float64Array) })
        const key = "a".repeat(63) + "b"
        yield* cache.memoize({ key, recipe: recipe("fit"), schema, compute: Effect.succeed({ weights: new Float64Array(1000).fill(0.5) }) })
        const before = { manifests: yield* store.listManifests, blobs: yield* store.listBlobs }
        for (let i = 0; i < 3; i++) yield* store.peekManifest(key)
        yield* store.peekManifest("0".repeat(64))
        assert.deepStrictEqual({ manifests: yield* store.listManifests, blobs: yield* store.listBlobs }, before)
        assert.isTrue(Option.isSome(yield* cache.lookup(key, schema)))
      })))

    it.effect("manifests are write-once: the first writer wins", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const key = "b".repeat(64)
        assert.isTrue(yield* store.putManifest(manifest(key, { output: "first" })))
        assert.isFalse(yield* store.putManifest(manifest(key, { output: "second" })))
        assert.strictEqual(Option.getOrThrow(yield* store.getManifest(key)).output, "first")
      })))

    it.effect("concurrent writers of one manifest: exactly one wins", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const key = "c".repeat(64)
        const results = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => store.putManifest(manifest(key, { output: `writer ${i}` })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter((won) => won).length, 1)
        assert.strictEqual(Option.getOrThrow(yield* store.getManifest(key)).output, `writer ${results.indexOf(true)}`)
      })))

    it.effect("a reader racing the writers of a manifest sees none or a whole one, never a part", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const key = "7".repeat(63) + "a"
        const outputs = Array.from({ length: 4 }, (_, i) => `writer ${i} `.repeat(2000))
        const writers = yield* Effect.forkChild(
          Effect.forEach(outputs, (output) => store.putManifest(manifest(key, { output })), { concurrency: "unbounded" })
        )
        const seen = yield* pollUntilSome(store.getManifest(key))
        yield* Fiber.join(writers)
        assert.include(outputs, Option.getOrThrow(seen).output)
      })))

    it.effect("a reader racing the writer of a large blob sees none or all of it", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        // Past the local store's 8 MiB threshold, where it writes in chunks, asynchronously.
        const data = new Uint8Array(9 * 1024 * 1024 + 5).map((_, i) => (i * 13) % 256)
        const digest = sha(data)
        const writer = yield* Effect.forkChild(store.putBlob(digest, data))
        const seen = Option.getOrThrow(yield* pollUntilSome(store.getBlob(digest)))
        yield* Fiber.join(writer)
        assert.strictEqual(seen.byteLength, data.byteLength)
        assert.strictEqual(sha(seen), digest)
      })))

    it.effect("blobs are content-addressed and idempotent", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        const data = new Uint8Array(100_000).map((_, i) => i % 251)
        const digest = sha(data)
        yield* store.putBlob(digest, data)
        yield* store.putBlob(digest, data)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.getBlob(digest)), data)
        const listed = (yield* store.listBlobs).filter((b) => b.digest === digest)
        assert.deepStrictEqual(listed, [{ digest, size: data.byteLength }])
      })))

    it.effect("a store that hashes as it writes or reads answers the SHA-256 of the bytes, and stores them as putBlob does", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        if (store.hashAndPutBlob === undefined && store.getBlobHashed === undefined) return
        // Below and past the local store's 8 MiB threshold, where it writes and reads in chunks.
        for (const size of [100_000, 9 * 1024 * 1024 + 5]) {
          const data = new Uint8Array(size).map((_, i) => (i * 7 + size) % 253)
          const digest = sha(data)
          if (store.hashAndPutBlob !== undefined) {
            assert.strictEqual(yield* store.hashAndPutBlob(data), digest)
            // Idempotent, as putBlob is.
            assert.strictEqual(yield* store.hashAndPutBlob(data), digest)
            assert.deepStrictEqual((yield* store.listBlobs).filter((b) => b.digest === digest), [{ digest, size }])
          } else {
            yield* store.putBlob(digest, data)
          }
          assert.strictEqual(sha(Option.getOrThrow(yield* store.getBlob(digest))), digest)
          if (store.getBlobHashed !== undefined) {
            const read = Option.getOrThrow(yield* store.getBlobHashed(digest))
            assert.strictEqual(read.sha256, digest)
            assert.strictEqual(sha(read.bytes), digest)
          }
        }
        if (store.getBlobHashed !== undefined) assert.isTrue(Option.isNone(yield* store.getBlobHashed("0".repeat(64))))
      })))

    it.effect("a reader racing hashAndPutBlob of a large blob sees none or all of it", () =>
      run(Effect.gen(function*() {
        const store = yield* CacheStore
        if (store.hashAndPutBlob === undefined) return
        const data = new Uint8Array(9 * 1024 * 1024 + 5).map((_, i) => (i * 31) % 256)
        const digest = sha(data)
        const writer = yield* Effect.forkChild(store.hashAndPutBlob(data))
        const seen = Option.getOrThrow(yield* pollUntilSome(store.getBlob(digest)))
        assert.strictEqual(yield* Fiber.join(writer), digest)
        assert.strictEqual(seen.byteLength, data.byteLength)
        assert.strictEqual(sha(seen), digest)
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
        const d = manifest("d".repeat(64))
        const e = manifest("e".repeat(64), { output: "a longer output" })
        yield* store.putManifest(d)
        yield* store.putManifest(e)
        // Sizes are those of the stored form.
        const listed = (yield* store.listManifests).map((m) => [m.key, m.size]).sort()
        assert.deepStrictEqual(listed, [[d.key, Manifest.encode(d).byteLength], [e.key, Manifest.encode(e).byteLength]])
        yield* store.deleteManifest(d.key)
        assert.isTrue(Option.isNone(yield* store.getManifest(d.key)))
        yield* store.quarantineManifest(e.key, "test")
        assert.isTrue(Option.isNone(yield* store.getManifest(e.key)))
        assert.deepStrictEqual(yield* store.listManifests, [])
        // The quarantined key can be written again.
        assert.isTrue(yield* store.putManifest(manifest(e.key, { output: "new" })))
        const blob = bytes("blob")
        yield* store.putBlob(sha(blob), blob)
        yield* store.quarantineBlob(sha(blob), "test")
        assert.isTrue(Option.isNone(yield* store.getBlob(sha(blob))))
        yield* store.putBlob(sha(blob), blob)
        yield* store.deleteBlob(sha(blob))
        assert.isTrue(Option.isNone(yield* store.getBlob(sha(blob))))
        assert.deepStrictEqual(yield* store.listBlobs, [])
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
        const key = "9".repeat(64)
        yield* cache.memoize({ key, recipe: recipe("fit"), schema, compute: Effect.succeed({ label: "w", weights }) })
        const hit = Option.getOrThrow(yield* cache.lookup(key, schema))
        assert.strictEqual(hit.value.label, "w")
        assert.deepStrictEqual(Array.from(hit.value.weights), Array.from(weights))
        assert.strictEqual(hit.manifest.key, key)
        assert.strictEqual(hit.manifest.blobs.length, 1)
      })))

    const corruptManifest = options?.corruptManifest
    if (corruptManifest !== undefined) {
      it.effect("a corrupt manifest is never served: reads fail with CorruptManifestError or find none; Cache moves it aside", () =>
        run(Effect.gen(function*() {
          const store = yield* CacheStore
          const cache = yield* Cache.make()
          const key = "8".repeat(64)
          assert.isTrue(yield* store.putManifest(manifest(key, { output: "stored" })))
          yield* Effect.orDie(corruptManifest(key))
          const notServed = (read: Exit.Exit<Option.Option<Manifest.Manifest>, unknown>) =>
            Exit.isSuccess(read) ? Option.isNone(read.value) : Cause.squash(read.cause) instanceof Manifest.CorruptManifestError
          const peeked = yield* Effect.exit(store.peekManifest(key))
          assert.isTrue(notServed(peeked), `peek: ${peeked}`)
          const read = yield* Effect.exit(store.getManifest(key))
          assert.isTrue(notServed(read), `read: ${read}`)
          assert.isTrue(Option.isNone(yield* cache.lookup(key, Schema.String)))
          assert.isTrue(Option.isNone(yield* store.getManifest(key)), "moved aside")
          yield* cache.memoize({ key, recipe: recipe("s"), schema: Schema.String, compute: Effect.succeed("ok") })
          assert.strictEqual(Option.getOrThrow(yield* cache.lookup(key, Schema.String)).value, "ok")
        })))
    }
  })
}
