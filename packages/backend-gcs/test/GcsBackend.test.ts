import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Cache, CacheAdmin, CacheStore, type ProjectConfig, type Recipe, RunStore } from "@expops/core"
import { TestRecipes } from "@expops/core/testing"
import { ConfigProvider, Effect, Layer, Option, Schema } from "effect"
import { GcsBackend, type GcsError } from "@expops/backend-gcs"
import type { FakeGcsServer } from "@expops/backend-gcs/testing"
import { BUCKET, fastRetry, flipObjectByte, names, save, server, sha256 } from "./fixtures/gcs.ts"

const gcs = (overrides: Partial<ProjectConfig.GcsConfig> = {}): ProjectConfig.GcsConfig => ({
  bucket: BUCKET,
  prefix: "expops",
  project: undefined,
  credentials: undefined,
  localTier: true,
  ...overrides
})

const recipe: Recipe.Recipe = TestRecipes.placeholder("fit")
const KEY = "3".repeat(64)

const build = <A, E, R>(layer: Layer.Layer<A, E, R>) => Effect.flip(Layer.build(layer))

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "expops-gcs-"))

describe("GcsBackend", () => {
  it.live("provides the cache store (behind the local tier), the run store and cache admin on the bucket", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const local = CacheStore.makeMemory()
      const backend = GcsBackend.layer({ gcs: gcs(), projectName: "demo", apiEndpoint: fake.url, retry: fastRetry, local: Layer.succeed(CacheStore.CacheStore, local) })
      yield* Effect.gen(function*() {
        const store = yield* CacheStore.CacheStore
        assert.strictEqual(store.backend, "gcs+memory")
        const cache = yield* Cache.make()
        yield* save(cache, recipe, KEY, Schema.String, "value")
        assert.deepStrictEqual(names(fake, "cache/manifests/"), [`expops/demo/cache/manifests/${KEY}`])
        assert.isTrue(local.manifests.has(KEY))
        const admin = yield* CacheAdmin.CacheAdmin
        assert.strictEqual((yield* admin.stats).entries, 1)
        assert.deepStrictEqual((yield* admin.list()).map((e) => e.key), [KEY])
        const runs = yield* RunStore.RunStore
        assert.deepStrictEqual(yield* runs.listRuns(), [])
        yield* admin.clear
        assert.deepStrictEqual([names(fake, "cache/"), local.manifests.size], [[], 0])
      }).pipe(Effect.provide(backend))
    }))

  /** A machine: the backend over the fake bucket with a local tier of its own (in memory). */
  const machine = (fake: FakeGcsServer.FakeGcsServer) => {
    const local = CacheStore.makeMemory()
    const layer = GcsBackend.layer({ gcs: gcs(), projectName: "demo", apiEndpoint: fake.url, retry: fastRetry, local: Layer.succeed(CacheStore.CacheStore, local) })
    return { local, layer }
  }
  const Weights = Schema.instanceOf(Float64Array)
  const weights = (n: number) => Float64Array.from({ length: 2000 }, (_, i) => Math.sin(i + n))
  const store2 = Effect.gen(function*() {
    const cache = yield* Cache.make()
    yield* save(cache, recipe, KEY, Weights, weights(1))
    yield* save(cache, recipe, "4".repeat(64), Weights, weights(2))
  })

  it.live("cache verify, stats and ls on a fresh machine read the bucket without filling its local tier", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      yield* Effect.provide(store2, machine(fake).layer)
      const fresh = machine(fake)
      yield* Effect.gen(function*() {
        const admin = yield* CacheAdmin.CacheAdmin
        assert.strictEqual((yield* admin.stats).entries, 2)
        assert.strictEqual((yield* admin.list()).length, 2)
        const report = yield* admin.verify()
        assert.isTrue(report.ok, JSON.stringify(report))
      }).pipe(Effect.provide(fresh.layer))
      assert.deepStrictEqual([fresh.local.manifests.size, fresh.local.blobs.size], [0, 0])
    }))

  it.live("cache verify checks the bucket's own objects, even where the local tier holds a good copy; --repair moves the bad one aside", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const here = machine(fake)
      yield* Effect.provide(store2, here.layer)
      const cache = yield* Effect.provide(Cache.make(), here.layer)
      const digest = Option.getOrThrow(yield* Effect.provide(cache.lookup(KEY, Weights), here.layer)).manifest.blobs[0]!.digest
      flipObjectByte(fake, `expops/demo/cache/blobs/${digest}`, 100)
      yield* Effect.gen(function*() {
        const admin = yield* CacheAdmin.CacheAdmin
        const report = yield* admin.verify()
        assert.isFalse(report.ok)
        assert.deepStrictEqual(report.badBlobs.map((b) => [b.key, b.digest]), [[KEY, digest]])
        assert.match(report.badBlobs[0]!.reason, /content does not match its digest.*gcs/)
        yield* admin.verify({ repair: true })
        assert.isTrue((yield* admin.verify()).ok)
      }).pipe(Effect.provide(here.layer))
      assert.deepStrictEqual(names(fake, "cache/quarantine/").map((n) => n.replace(/\.\d+$/, "")).sort(), [
        `expops/demo/cache/quarantine/blobs/${digest}`,
        `expops/demo/cache/quarantine/manifests/${KEY}`
      ])
      // Another machine computes the entry again: its blob reaches the bucket intact, and is what the next machine reads.
      yield* Effect.provide(Effect.flatMap(Cache.make(), (c) => save(c, recipe, KEY, Weights, weights(1))), machine(fake).layer)
      assert.strictEqual(sha256(fake.objects(BUCKET).get(`expops/demo/cache/blobs/${digest}`)!.data), digest)
      const next = machine(fake)
      const hit = yield* Effect.provide(Effect.flatMap(Cache.make(), (c) => c.lookup(KEY, Weights)), next.layer)
      assert.deepStrictEqual(Array.from(Option.getOrThrow(hit).value), Array.from(weights(1)))
    }))

  it.live("local_tier: false uses the bucket alone", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const local = CacheStore.makeMemory()
      const backend = GcsBackend.layer({
        gcs: gcs({ localTier: false }),
        projectName: "demo",
        apiEndpoint: fake.url,
        retry: fastRetry,
        local: Layer.succeed(CacheStore.CacheStore, local)
      })
      const store = yield* Effect.provide(Effect.service(CacheStore.CacheStore), backend)
      assert.strictEqual(store.backend, "gcs")
      yield* store.putManifest(TestRecipes.manifest(KEY))
      assert.strictEqual(local.manifests.size, 0)
    }))

  it.live("the endpoint can come from EXPOPS_GCS_ENDPOINT", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      // Read through `Config`: from the environment by default, here from a provider holding it.
      const environment = ConfigProvider.layer(ConfigProvider.fromEnv({ env: { [GcsBackend.ENDPOINT_ENV]: fake.url } }))
      const store = yield* Effect.provide(
        Effect.service(CacheStore.CacheStore),
        GcsBackend.layer({ gcs: gcs(), projectName: "demo", retry: fastRetry }).pipe(Layer.provide(environment))
      )
      yield* store.putManifest(TestRecipes.manifest(KEY))
      assert.strictEqual(names(fake, "cache/manifests/").length, 1)
    }))

  it.live("403: an error naming the bucket, the operation and the credentials, before any work", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.setAccess(BUCKET, "none")
      const error = yield* build(GcsBackend.layer({ gcs: gcs(), projectName: "demo", apiEndpoint: fake.url, retry: fastRetry }))
      assert.strictEqual(error._tag, "GcsAccessDenied")
      assert.match(
        error.message,
        /^GCS denied access \(403\) to bucket team-cache while trying to list objects under gs:\/\/team-cache\/expops\/demo\/, using Application Default Credentials.*: 403 .*storage\.objects\.list/
      )
      assert.strictEqual(fake.count(), 1, "not retried")
    }))

  it.live("401 with a credentials file: the file is named, never its content", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.setAccess(BUCKET, "none", 401)
      const dir = tempDir()
      Fs.mkdirSync(Path.join(dir, "keys"))
      Fs.writeFileSync(Path.join(dir, "keys/sa.json"), JSON.stringify({ type: "service_account", private_key: "SECRET-KEY-MATERIAL" }))
      const error = yield* build(
        GcsBackend.layer({ gcs: gcs({ credentials: "keys/sa.json" }), projectName: "demo", projectDir: dir, apiEndpoint: fake.url, retry: fastRetry })
      )
      assert.strictEqual(error._tag, "GcsAccessDenied")
      assert.include(error.message, `refused the credentials (401) to bucket team-cache`)
      assert.include(error.message, `using credentials file ${Path.join(dir, "keys/sa.json")}`)
      assert.notInclude(error.message, "SECRET")
      assert.notInclude(JSON.stringify(error), "SECRET")
    }))

  it.live("a missing bucket is named", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const error = yield* build(GcsBackend.layer({ gcs: gcs({ bucket: "no-such-bucket" }), projectName: "demo", apiEndpoint: fake.url, retry: fastRetry }))
      assert.strictEqual(error._tag, "GcsBucketNotFound")
      assert.match(error.message, /^GCS bucket no-such-bucket does not exist .*gcloud storage buckets create gs:\/\/no-such-bucket/)
      // The failed request is kept behind it, and behind that what the client threw.
      const request = error.cause as GcsError.GcsRequestError
      assert.strictEqual(request._tag, "GcsRequestError")
      assert.strictEqual(request.status, 404)
      assert.instanceOf(request.cause, Error)
    }))

  it.live("a credentials file that is missing or not a key file is named", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const dir = tempDir()
      const missing = yield* build(GcsBackend.layer({ gcs: gcs({ credentials: "keys/none.json" }), projectName: "demo", projectDir: dir, apiEndpoint: fake.url }))
      assert.strictEqual(missing._tag, "GcsCredentialsError")
      assert.include(missing.message, `credentials file ${Path.join(dir, "keys/none.json")}): the file does not exist`)
      assert.strictEqual((missing.cause as NodeJS.ErrnoException).code, "ENOENT")
      Fs.writeFileSync(Path.join(dir, "notes.json"), "{\"hello\": 1}")
      const wrong = yield* build(GcsBackend.layer({ gcs: gcs({ credentials: "notes.json" }), projectName: "demo", projectDir: dir, apiEndpoint: fake.url }))
      assert.match(wrong.message, /not a Google credentials file/)
      assert.strictEqual(fake.count(), 0, "checked before any request")
    }))

  it.live("an unreachable endpoint is GcsUnavailable once the retries run out", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const url = fake.url
      yield* Effect.promise(() => fake.close())
      const error = yield* build(GcsBackend.layer({ gcs: gcs(), projectName: "demo", apiEndpoint: url, retry: fastRetry }))
      assert.strictEqual(error._tag, "GcsUnavailable")
      assert.match(error.message, /list objects under gs:\/\/team-cache\/expops\/demo\//)
    }))

  it.live("nothing stored locally is lost when GCS fails", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const local = CacheStore.makeMemory()
      const localLayer = Layer.succeed(CacheStore.CacheStore, local)
      const layer = GcsBackend.layer({ gcs: gcs(), projectName: "demo", apiEndpoint: fake.url, retry: fastRetry, local: localLayer })
      yield* Effect.gen(function*() {
        const cache = yield* Cache.make()
        yield* save(cache, recipe, KEY, Schema.String, "computed")
        // The bucket becomes unreachable mid-run: the entry is still served, new ones still stored.
        fake.setAccess(BUCKET, "none")
        assert.strictEqual(Option.getOrThrow(yield* cache.lookup(KEY, Schema.String)).value, "computed")
        yield* save(cache, recipe, "4".repeat(64), Schema.String, "more")
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(Array.from(local.manifests.keys()).sort(), [KEY, "4".repeat(64)])
      // A backend that cannot start touches nothing local.
      yield* build(layer)
      assert.strictEqual(local.manifests.size, 2)
    }))
})
