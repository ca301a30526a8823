import { assert, describe, it } from "@effect/vitest"
import { Cache, CacheStore, Recipe } from "@expops/core"
import { CacheStoreConformance, TestRecipes } from "@expops/core/testing"
import type { FakeGcsServer } from "@expops/backend-gcs/testing"
import { Effect, Exit, Layer, Option, Schema } from "effect"
import { GcsCacheStore } from "@expops/backend-gcs"
import { BUCKET, client, content, fastRetry, flipObjectByte, names, save, server, sha256 } from "./fixtures/gcs.ts"

/** The store, carrying its fake server for the corruption hook. */
type WithServer = CacheStore.Shape & { readonly fake: FakeGcsServer.FakeGcsServer }

const conformance = (options?: Parameters<typeof client>[1]) =>
  Layer.effect(
    CacheStore.CacheStore,
    Effect.map(server(), (fake): WithServer => ({ ...GcsCacheStore.make(client(fake, options)), fake }))
  )

const corruptManifest = (key: string) =>
  Effect.gen(function*() {
    const { fake } = (yield* CacheStore.CacheStore) as WithServer
    flipObjectByte(fake, `expops/demo/cache/manifests/${key}`, 80)
  })

CacheStoreConformance.suite("gcs", () => conformance(), { corruptManifest })
CacheStoreConformance.suite("gcs, resumable uploads, one object per listing page", () =>
  conformance({ resumableThresholdBytes: 0, pageSize: 1 }), { corruptManifest })

const recipe = (name: string): Recipe.Recipe => TestRecipes.placeholder(name)

const Output = Schema.Struct({ label: Schema.String, weights: Schema.instanceOf(Float64Array) })
const output = (n: number) => ({ label: `w${n}`, weights: Float64Array.from({ length: n }, (_, i) => Math.sin(i)) })
const KEY = "7".repeat(64)

const cacheOver = (store: CacheStore.Shape) => Effect.provideService(Cache.make(), CacheStore.CacheStore, store)

describe("GcsCacheStore", () => {
  it.live("lays entries out under PREFIX/PROJECT/cache: blobs by digest, manifests by key", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const cache = yield* cacheOver(GcsCacheStore.make(client(fake)))
      yield* save(cache, recipe("fit"), KEY, Output, output(2000))
      const [blob] = names(fake, "cache/blobs/")
      assert.deepStrictEqual(names(fake, "cache/manifests/"), [`expops/demo/cache/manifests/${KEY}`])
      assert.strictEqual(blob, `expops/demo/cache/blobs/${sha256(fake.objects(BUCKET).get(blob!)!.data)}`)
    }))

  it.live("a race of two writers on one manifest leaves exactly one, and both saves succeed", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const machineA = GcsCacheStore.make(client(fake))
      const machineB = GcsCacheStore.make(client(fake))
      for (let round = 0; round < 5; round++) {
        const key = String(round).repeat(64)
        const [a, b] = yield* Effect.all([
          machineA.putManifest(TestRecipes.manifest(key, { output: "from A" })),
          machineB.putManifest(TestRecipes.manifest(key, { output: "from B" }))
        ], { concurrency: 2 })
        assert.strictEqual(Number(a) + Number(b), 1, `round ${round}: exactly one writer wins`)
        assert.strictEqual(Option.getOrThrow(yield* machineB.getManifest(key)).output, a ? "from A" : "from B")
      }
      // Through the Cache, as two machines that computed the same entry.
      const [cacheA, cacheB] = [yield* cacheOver(machineA), yield* cacheOver(machineB)]
      yield* Effect.all([save(cacheA, recipe("fit"), KEY, Output, output(2000), 5), save(cacheB, recipe("fit"), KEY, Output, output(2000), 7)], {
        concurrency: 2
      })
      assert.strictEqual(names(fake, "cache/manifests/").filter((n) => n.endsWith(KEY)).length, 1)
      const hitA = Option.getOrThrow(yield* cacheA.lookup(KEY, Output))
      const hitB = Option.getOrThrow(yield* cacheB.lookup(KEY, Output))
      assert.strictEqual(hitA.manifest.durationMs, hitB.manifest.durationMs)
      assert.deepStrictEqual(Array.from(hitB.value.weights), Array.from(output(2000).weights))
    }))

  it.live("a burst of 503s and a 429 end in success, blobs stored before the manifest", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const blobFaults = fake.inject({ when: { operation: "upload.multipart", name: /\/blobs\// }, times: 3, fault: { status: 503 } })
      const manifestFaults = fake.inject({ when: { operation: "upload.multipart", name: /\/manifests\// }, times: 2, fault: { status: 503 } })
      const readFault = fake.inject({ when: { operation: "object.media" }, fault: { status: 429 } })
      const cache = yield* cacheOver(GcsCacheStore.make(client(fake)))
      yield* save(cache, recipe("fit"), KEY, Output, output(2000))
      const hit = Option.getOrThrow(yield* cache.lookup(KEY, Output))
      assert.deepStrictEqual(Array.from(hit.value.weights), Array.from(output(2000).weights))
      assert.deepStrictEqual([blobFaults.hits(), manifestFaults.hits(), readFault.hits()], [3, 2, 1])
      const uploads = fake.requests.filter((r) => r.operation === "upload.multipart")
      const lastBlob = uploads.map((r) => r.name!.includes("/blobs/")).lastIndexOf(true)
      const firstManifest = uploads.findIndex((r) => r.name!.includes("/manifests/"))
      assert.isTrue(uploads[lastBlob]!.status === 200 && lastBlob < firstManifest)
    }))

  it.live("a blob that cannot be stored leaves no manifest; retries stop at the bound", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ when: { name: /\/blobs\// }, times: 1000, fault: { status: 503 } })
      const cache = yield* cacheOver(GcsCacheStore.make(client(fake)))
      const exit = yield* Effect.exit(save(cache, recipe("fit"), KEY, Output, output(2000)))
      assert.isTrue(Exit.isFailure(exit))
      assert.match(String(Exit.isFailure(exit) && exit.cause), /write blob.*expops\/demo\/cache\/blobs\/[0-9a-f]{64}: 503/)
      assert.deepStrictEqual(names(fake, "cache/manifests/"), [])
      assert.strictEqual(fake.count({ operation: "upload.multipart" }), fastRetry.maxRetries + 1)
    }))

  it.live("retries also stop at the time bound", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ times: 10_000, fault: { status: 500 } })
      const store = GcsCacheStore.make(client(fake, { retry: { maxRetries: 1000, baseDelayMs: 5, maxDelayMs: 5, totalTimeoutMs: 60 } }))
      const error = yield* Effect.flip(store.getManifest(KEY))
      assert.match(error.message, /read manifest .*: 500/)
      const attempts = fake.count()
      assert.isTrue(attempts >= 2 && attempts < 100, `${attempts} attempts`)
    }))

  // On the test clock, under a guard that fails at the first sleep: a retry here fails at once, saying why, instead of hanging.
  it.effect("a 501 (not implemented) is not retried: one request, and its error at once", () =>
    CacheStoreConformance.failOnSleep(Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ times: 10, fault: { status: 501 } })
      const store = GcsCacheStore.make(client(fake))
      const error = yield* Effect.flip(store.getManifest(KEY))
      assert.match(error.message, /read manifest at gs:\/\/team-cache\/expops\/demo\/cache\/manifests\/7{64}: 501/)
      assert.strictEqual(fake.count(), 1)
    })))

  it.effect("a store that sleeps on the test clock fails at once and says why, instead of hanging", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ fault: { status: 503 } })
      const store = GcsCacheStore.make(client(fake))
      const exit = yield* Effect.exit(CacheStoreConformance.failOnSleep(store.getManifest(KEY)))
      assert.match(String(exit), /slept [\d.]+ ms on the test clock.*would hang until its timeout/s)
    }))

  it.live("a connection dropped mid-upload resumes the same resumable session", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const drop = fake.inject({ when: { operation: "upload.resumable.chunk" }, fault: { dropAfterBytes: 300_000 } })
      const store = GcsCacheStore.make(client(fake, { resumableThresholdBytes: 64 * 1024 }))
      const data = content(1024 * 1024)
      yield* store.putBlob(sha256(data), data)
      assert.strictEqual(drop.hits(), 1)
      assert.strictEqual(fake.count({ operation: "upload.resumable.start" }), 1, "one session, resumed")
      assert.isTrue(fake.count({ operation: "upload.resumable.status" }) >= 1, "the client asked how much arrived")
      assert.strictEqual(sha256(Option.getOrThrow(yield* store.getBlob(sha256(data)))), sha256(data))
    }))

  it.live("a connection dropped mid-upload of a whole entry ends in success with no orphan manifest", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ when: { operation: ["upload.multipart", "upload.resumable.chunk"] }, fault: { dropAfterBytes: 1000 } })
      const cache = yield* cacheOver(GcsCacheStore.make(client(fake)))
      yield* save(cache, recipe("fit"), KEY, Output, output(2000))
      assert.strictEqual(fake.requests.filter((r) => r.fault?.startsWith("drop")).length, 1)
      for (const manifest of names(fake, "cache/manifests/")) assert.strictEqual(manifest, `expops/demo/cache/manifests/${KEY}`)
      assert.deepStrictEqual(Array.from(Option.getOrThrow(yield* cache.lookup(KEY, Output)).value.weights), Array.from(output(2000).weights))
    }))

  it.live("a connection dropped mid-download is retried", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsCacheStore.make(client(fake))
      const data = content(200_000)
      yield* store.putBlob(sha256(data), data)
      const drop = fake.inject({ when: { operation: "object.media" }, fault: { dropAfterBytes: 50_000 } })
      assert.strictEqual(sha256(Option.getOrThrow(yield* store.getBlob(sha256(data)))), sha256(data))
      assert.strictEqual(drop.hits(), 1)
      assert.strictEqual(fake.count({ operation: "object.media" }), 2)
    }))

  it.live("a manifest write whose answer was lost still answers true; a second writer then gets false", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.inject({ when: { operation: "upload.multipart" }, fault: { dropResponse: true } })
      const store = GcsCacheStore.make(client(fake))
      assert.isTrue(yield* store.putManifest(TestRecipes.manifest(KEY, { output: "mine" })))
      assert.strictEqual(fake.count({ operation: "upload.multipart" }), 2, "stored, answer lost, retried into a 412")
      assert.isFalse(yield* store.putManifest(TestRecipes.manifest(KEY, { output: "someone else" })))
    }))

  it.live("a download that does not match the checksum the server declares is an error, not data", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsCacheStore.make(client(fake))
      const data = content(10_000)
      yield* store.putBlob(sha256(data), data)
      const name = `expops/demo/cache/blobs/${sha256(data)}`
      const stored = fake.objects(BUCKET).get(name)!
      const flipped = Buffer.from(stored.data)
      flipped[5000] ^= 1
      fake.objects(BUCKET).set(name, { ...stored, data: flipped })
      const error = yield* Effect.flip(store.getBlob(sha256(data)))
      assert.match(error.message, /read blob at gs:\/\/team-cache\/expops\/demo\/cache\/blobs\/[0-9a-f]{64}/)
    }))

  it.live("a 403 is not retried, and names the credentials in use", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.setAccess(BUCKET, "read-only")
      const store = GcsCacheStore.make(client(fake, { credentials: "/keys/reader.json" }))
      const error = yield* Effect.flip(store.putManifest(TestRecipes.manifest(KEY)))
      assert.strictEqual(error._tag, "CacheStoreError")
      assert.match(error.message, /write manifest at gs:\/\/team-cache\/expops\/demo\/cache\/manifests\/7{64}: 403 .*storage\.objects\.create.*credentials file \/keys\/reader\.json/)
      assert.strictEqual(fake.count(), 1)
      assert.isTrue(Option.isNone(yield* store.getManifest(KEY)), "reads still work")
    }))

  it.live("quarantine moves objects under cache/quarantine/, with the reason", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsCacheStore.make(client(fake))
      const blob = content(100)
      yield* store.putBlob(sha256(blob), blob)
      yield* store.putManifest(TestRecipes.manifest(KEY))
      yield* store.quarantineManifest(KEY, "checksum mismatch")
      yield* store.quarantineBlob(sha256(blob), "digest mismatch")
      const moved = names(fake, "cache/quarantine/")
      assert.deepStrictEqual(moved.map((n) => n.replace(/\.\d+$/, "")), [
        `expops/demo/cache/quarantine/blobs/${sha256(blob)}`,
        `expops/demo/cache/quarantine/manifests/${KEY}`
      ])
      assert.deepStrictEqual(moved.map((n) => fake.objects(BUCKET).get(n)!.metadata.reason), ["digest mismatch", "checksum mismatch"])
      assert.deepStrictEqual([names(fake, "cache/manifests/"), names(fake, "cache/blobs/")], [[], []])
      // Quarantining what is gone already is not an error.
      yield* store.quarantineManifest(KEY, "again")
    }))

  it.live("lists page by page", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsCacheStore.make(client(fake, { pageSize: 2 }))
      for (let i = 0; i < 5; i++) yield* store.putManifest(TestRecipes.manifest(String(i).repeat(64)))
      fake.resetLog()
      const listed = yield* store.listManifests
      assert.deepStrictEqual(listed.map((m) => m.key), [0, 1, 2, 3, 4].map((i) => String(i).repeat(64)))
      assert.strictEqual(fake.count({ operation: "object.list" }), 3)
    }))

  it.live("a hit costs one manifest read plus its blobs, fetched concurrently", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const cache = yield* cacheOver(GcsCacheStore.make(client(fake)))
      const Three = Schema.Struct({ a: Schema.instanceOf(Float64Array), b: Schema.instanceOf(Float64Array), c: Schema.instanceOf(Float64Array) })
      const value = { a: output(1000).weights, b: output(2000).weights, c: output(3000).weights }
      yield* save(cache, recipe("three"), KEY, Three, value)
      fake.setLatency(40)
      fake.resetLog()
      yield* cache.lookup(KEY, Three)
      assert.deepStrictEqual(fake.requests.map((r) => r.operation), Array(4).fill("object.media"))
      assert.strictEqual(fake.maxInFlight(), 3, "the three blobs at once")
    }))

  it.effect("a key that is not a plain name is refused before any request", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const store = GcsCacheStore.make(client(fake))
      const error = yield* Effect.flip(store.getManifest("../../runs/x"))
      assert.match(error.message, /"\.\.\/\.\.\/runs\/x" is not a valid key/)
      assert.strictEqual(fake.count(), 0)
    }))
})
