import { assert, describe, it } from "@effect/vitest"
import { Cache, CacheStore, Recipe } from "@expops/core"
import { CacheStoreConformance, TestRecipes } from "@expops/core/testing"
import { Effect, Layer, Logger, Option, Schema } from "effect"
import { GcsCacheStore, TieredCacheStore } from "@expops/backend-gcs"
import type { FakeGcsServer } from "@expops/backend-gcs/testing"
import { BUCKET, bytes, client, flipObjectByte, names, save, server } from "./fixtures/gcs.ts"

type Memory = ReturnType<typeof CacheStore.makeMemory>
/** The tiered store, carrying what its corruption hook needs to reach behind it. */
type WithTiers = CacheStore.Shape & { readonly local: Memory; readonly remote: Memory | FakeGcsServer.FakeGcsServer }

const flipMemory = (store: Memory, key: string) => {
  const copy = store.manifests.get(key)!.slice()
  copy[copy.length - 3]! ^= 1
  store.manifests.set(key, copy)
}

/** Both tiers hold the entry (it was written through both): both copies are damaged. */
const corruptManifest = (key: string) =>
  Effect.gen(function*() {
    const { local, remote } = (yield* CacheStore.CacheStore) as WithTiers
    flipMemory(local, key)
    if ("manifests" in remote) flipMemory(remote, key)
    else flipObjectByte(remote, `expops/demo/cache/manifests/${key}`, 80)
  })

CacheStoreConformance.suite("tiered: memory in front of gcs", () =>
  Layer.effect(
    CacheStore.CacheStore,
    Effect.map(server(), (fake): WithTiers => {
      const local = CacheStore.makeMemory()
      return { ...TieredCacheStore.make(local, GcsCacheStore.make(client(fake))), local, remote: fake }
    })
  ), { corruptManifest })

CacheStoreConformance.suite("tiered: memory in front of memory", () =>
  Layer.sync(CacheStore.CacheStore, (): WithTiers => {
    const [local, remote] = [CacheStore.makeMemory(), CacheStore.makeMemory()]
    return { ...TieredCacheStore.make(local, remote), local, remote }
  }), { corruptManifest })

const recipe = (name: string): Recipe.Recipe => TestRecipes.placeholder(name)

const Output = Schema.Struct({ label: Schema.String, weights: Schema.instanceOf(Float64Array) })
const value = { label: "w", weights: Float64Array.from({ length: 2000 }, (_, i) => Math.cos(i)) }
const KEY = "5".repeat(64)

const cacheOver = (store: CacheStore.Shape) => Effect.provideService(Cache.make(), CacheStore.CacheStore, store)

/** Collects warnings logged while `effect` runs. */
const withWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const result = yield* Effect.provide(effect, Logger.layer([logger]))
    return { result, warnings }
  })

describe("TieredCacheStore", () => {
  it.live("a local hit sends no request; a remote hit is copied into the local tier", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const first = yield* cacheOver(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(client(fake))))
      yield* save(first, recipe("fit"), KEY, Output, value)

      // Another machine, with an empty local tier.
      const local = CacheStore.makeMemory()
      const second = yield* cacheOver(TieredCacheStore.make(local, GcsCacheStore.make(client(fake))))
      fake.resetLog()
      const remoteHit = Option.getOrThrow(yield* second.lookup(KEY, Output))
      assert.deepStrictEqual(Array.from(remoteHit.value.weights), Array.from(value.weights))
      assert.deepStrictEqual(fake.requests.map((r) => r.operation), ["object.media", "object.media"], "one manifest, one blob")
      assert.deepStrictEqual([local.manifests.size, local.blobs.size], [1, 1])

      fake.resetLog()
      const localHit = Option.getOrThrow(yield* second.lookup(KEY, Output))
      assert.deepStrictEqual(Array.from(localHit.value.weights), Array.from(value.weights))
      assert.strictEqual(fake.count(), 0)
    }))

  it.live("writes go to both tiers; when the remote already holds the entry, the local tier takes the remote's copy", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const remote = GcsCacheStore.make(client(fake))
      assert.isTrue(yield* remote.putManifest(TestRecipes.manifest(KEY, { output: "written first, elsewhere" })))
      const local = CacheStore.makeMemory()
      const tiered = TieredCacheStore.make(local, remote)
      assert.isFalse(yield* tiered.putManifest(TestRecipes.manifest(KEY, { output: "written second, here" })))
      assert.strictEqual(Option.getOrThrow(yield* local.getManifest(KEY)).output, "written first, elsewhere")
      assert.isTrue(yield* tiered.putManifest(TestRecipes.manifest("6".repeat(64), { output: "new" })))
      assert.strictEqual(Option.getOrThrow(yield* remote.getManifest("6".repeat(64))).output, "new")
      assert.isTrue(local.manifests.has("6".repeat(64)))
    }))

  it.live("when the bucket refuses writes, the entry is kept locally with a warning, and reads go on", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.setAccess(BUCKET, "read-only")
      const local = CacheStore.makeMemory()
      const cache = yield* cacheOver(TieredCacheStore.make(local, GcsCacheStore.make(client(fake))))
      const { warnings } = yield* withWarnings(Effect.all([
        save(cache, recipe("fit"), KEY, Output, value),
        save(cache, recipe("fit"), "6".repeat(64), Output, { ...value, label: "other" }),
        save(cache, recipe("fit"), "7".repeat(64), Output, { ...value, weights: value.weights.map((x) => x + 1) })
      ]))
      assert.deepStrictEqual([local.manifests.size, local.blobs.size], [3, 2])
      assert.deepStrictEqual(names(fake, "cache/"), [])
      // One warning per cause, not one per object.
      assert.strictEqual(warnings.filter((w) => /remote cache write failed: .*write blob.*403/.test(w)).length, 1, warnings.join("\n"))
      assert.strictEqual(warnings.filter((w) => /kept locally only/.test(w)).length, 1, warnings.join("\n"))
      assert.isTrue(Option.isSome(yield* cache.lookup(KEY, Output)))
    }))

  it.live("a manifest never goes to the bucket after one of its blobs failed to", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ when: { name: /\/blobs\// }, times: 1000, fault: { status: 503 } })
      const local = CacheStore.makeMemory()
      const cache = yield* cacheOver(TieredCacheStore.make(local, GcsCacheStore.make(client(fake))))
      const { warnings } = yield* withWarnings(save(cache, recipe("fit"), KEY, Output, value))
      assert.deepStrictEqual(names(fake, "cache/manifests/"), [])
      assert.isTrue(local.manifests.has(KEY))
      assert.isTrue(warnings.some((w) => /kept locally only/.test(w)), warnings.join("\n"))
    }))

  it.live("with onRemoteFailure: fail, the error surfaces, and the local tier still holds the entry", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.setAccess(BUCKET, "read-only")
      const local = CacheStore.makeMemory()
      const tiered = TieredCacheStore.make(local, GcsCacheStore.make(client(fake)), { onRemoteFailure: "fail" })
      const error = yield* Effect.flip(tiered.putBlob("a".repeat(64), bytes("x")))
      assert.match(error.message, /403/)
      assert.isTrue(local.blobs.has("a".repeat(64)), "written locally all the same")
      const manifestError = yield* Effect.flip(tiered.putManifest(TestRecipes.manifest(KEY)))
      assert.match(manifestError.message, /write manifest.*403/)
      assert.isTrue(local.manifests.has(KEY))
    }))

  it.live("a remote read failure is a miss with a warning", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.setAccess(BUCKET, "none")
      const cache = yield* cacheOver(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(client(fake))))
      const { result, warnings } = yield* withWarnings(cache.lookup(KEY, Output))
      assert.isTrue(Option.isNone(result))
      assert.isTrue(warnings.some((w) => /remote cache read failed/.test(w)))
    }))

  it.live("a corrupt local copy is quarantined locally only, and the good shared entry is served instead", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const local = CacheStore.makeMemory()
      const cache = yield* cacheOver(TieredCacheStore.make(local, GcsCacheStore.make(client(fake))))
      yield* save(cache, recipe("fit"), KEY, Output, value)
      const good = local.manifests.get(KEY)!
      const bad = good.slice()
      bad[bad.length - 3] ^= 1
      local.manifests.set(KEY, bad)
      const hit = Option.getOrThrow(yield* cache.lookup(KEY, Output))
      assert.deepStrictEqual(Array.from(hit.value.weights), Array.from(value.weights))
      assert.deepStrictEqual(local.quarantined.map((q) => q.slice(0, 8)), ["manifest"])
      assert.deepStrictEqual(names(fake, "cache/quarantine/"), [])
      assert.isTrue(local.manifests.has(KEY), "the local tier holds the shared copy again")
    }))

  it.live("a corrupt blob or manifest in the bucket is not kept in the local tier of a fresh machine", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const first = yield* cacheOver(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(client(fake))))
      yield* save(first, recipe("fit"), KEY, Output, value)
      yield* save(first, recipe("fit"), "6".repeat(64), Output, { ...value, label: "other", weights: value.weights.map((x) => -x) })
      const [blob] = names(fake, "cache/blobs/")
      flipObjectByte(fake, blob!, 100)
      flipObjectByte(fake, `expops/demo/cache/manifests/${"6".repeat(64)}`, 80)

      // The bytes are read (the client's CRC32C matches what the bucket holds), but never kept locally.
      const local = CacheStore.makeMemory()
      const fresh = TieredCacheStore.make(local, GcsCacheStore.make(client(fake)))
      const digest = blob!.slice(blob!.lastIndexOf("/") + 1)
      assert.isTrue(Option.isSome(yield* fresh.getBlob(digest)))
      assert.isFalse(local.blobs.has(digest), "the corrupt blob stays out of the local tier")
      yield* Effect.exit(fresh.getManifest("6".repeat(64)))
      assert.isFalse(local.manifests.has("6".repeat(64)), "the corrupt manifest stays out of the local tier")
      // Through the Cache: a miss, and the local tier holds nothing of either entry.
      const cache = yield* cacheOver(fresh)
      assert.isTrue(Option.isNone(yield* cache.lookup(KEY, Output)))
      assert.isTrue(Option.isNone(yield* cache.lookup("6".repeat(64), Output)))
      assert.deepStrictEqual([local.blobs.has(digest), local.manifests.has("6".repeat(64))], [false, false])
    }))

  it.live("an entry bad in both tiers is quarantined in both", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const cache = yield* cacheOver(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(client(fake))))
      yield* save(cache, recipe("fit"), KEY, Output, value)
      // Written under an output type that has changed since: undecodable everywhere.
      assert.isTrue(Option.isNone(yield* cache.lookup(KEY, Schema.Struct({ label: Schema.Number }))))
      assert.strictEqual(names(fake, "cache/quarantine/manifests/").length, 1)
      assert.deepStrictEqual(names(fake, "cache/manifests/"), [])
    }))

  it.live("lookups of independent keys run concurrently", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const cache = yield* cacheOver(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(client(fake))))
      const keys = ["1", "2", "3", "4"].map((d) => d.repeat(64))
      for (const key of keys) yield* save(cache, recipe("s"), key, Schema.String, key.slice(0, 4))
      const reader = yield* cacheOver(TieredCacheStore.make(CacheStore.makeMemory(), GcsCacheStore.make(client(fake))))
      fake.setLatency(40)
      fake.resetLog()
      const hits = yield* Effect.forEach(keys, (key) => reader.lookup(key, Schema.String), { concurrency: "unbounded" })
      assert.deepStrictEqual(hits.map((h) => Option.getOrThrow(h).value), ["1111", "2222", "3333", "4444"])
      assert.strictEqual(fake.maxInFlight(), 4)
    }))
})
