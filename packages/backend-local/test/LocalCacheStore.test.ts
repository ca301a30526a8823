import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Cache, CacheAdmin, CacheStore, CodeParts, Reproducibility, Step } from "@expops/core"
import { CacheStoreConformance, TestRecipes } from "@expops/core/testing"
import { Effect, Layer, Option, Schema } from "effect"
import { LocalBackend, LocalCacheStore } from "@expops/backend-local"
import { cacheDirs, entriesIn, filesUnder } from "./fixtures/files.ts"
import { tmpDir } from "./fixtures/tmp.ts"

/** Flips a byte of what the store holds for `key`, behind its back: the manifest file, or the manifest's record in a pack. */
const corruptManifest = (key: string) =>
  Effect.gen(function*() {
    const { directory } = (yield* CacheStore.CacheStore) as LocalCacheStore.Shape
    const file = path.join(directory, "manifests", key.slice(0, 2), key)
    if (fs.existsSync(file)) return flipByte(file, 80)
    const packs = path.join(directory, "packs")
    for (const name of filesUnder(packs).filter((f) => f.endsWith(".pack"))) {
      const at = fs.readFileSync(path.join(packs, name)).indexOf(`{"key":"${key}"`)
      if (at >= 0) return flipByte(path.join(packs, name), at + 10)
    }
    throw new Error(`no manifest of ${key} to corrupt`)
  })

CacheStoreConformance.suite("local", () => LocalCacheStore.layer(tmpDir()), { corruptManifest })
CacheStoreConformance.suite("local without index or fsync", () =>
  LocalCacheStore.layerWithoutIndex(path.join(tmpDir(), "cache"), { fsync: false }), { corruptManifest })
CacheStoreConformance.suite("local, packed after every write", () => LocalCacheStore.layer(tmpDir(), { packEvery: 1 }), { corruptManifest })

/** A step with a blob-sized output that counts its executions, run on the local backend of `dir`. */
const setup = (dir: string) => {
  let runs = 0
  const weights = Step.make({
    name: "weights",
    input: Schema.Int,
    output: Schema.Struct({ label: Schema.String, w: Schema.instanceOf(Float64Array) }),
    run: function*(n) {
      runs++
      return { label: `n=${n}`, w: Float64Array.from({ length: n }, (_, i) => i * 0.5) }
    }
  })
  const layer = Layer.provideMerge(Cache.layer(), Layer.merge(LocalBackend.layer(dir), Reproducibility.layer(1)))
  const call = (n: number) => Effect.provide(weights(n), layer)
  // The step's code parts, a blob of their own that hits do not read (see CodeParts).
  const codeParts = path.join(cacheDirs(dir).blobs, CodeParts.encode(weights.codeParts).digest.slice(0, 2), CodeParts.encode(weights.codeParts).digest)
  /** The blobs of outputs. */
  const outputBlobs = () => entriesIn(cacheDirs(dir).blobs).filter((file) => file !== codeParts)
  const verify = (options?: { readonly repair?: boolean }) =>
    Effect.provide(Effect.gen(function*() {
      return yield* (yield* CacheAdmin.CacheAdmin).verify(options)
    }), LocalBackend.layer(dir))
  return { call, runs: () => runs, codeParts, outputBlobs, verify }
}

const flipByte = (file: string, at: number) => {
  const bytes = fs.readFileSync(file)
  bytes[at] = bytes[at]! ^ 0x01
  fs.writeFileSync(file, bytes)
}

describe("LocalCacheStore", () => {
  it.effect("lays entries out in sharded folders, leaving no temp files", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const { call } = setup(dir)
      yield* call(2000)
      const { blobs, manifests } = cacheDirs(dir)
      const [manifest] = filesUnder(manifests)
      const [blob] = filesUnder(blobs)
      assert.match(manifest!, /^([0-9a-f]{2})\/\1[0-9a-f]{62}$/)
      assert.match(blob!, /^([0-9a-f]{2})\/\1[0-9a-f]{62}$/)
      assert.strictEqual(filesUnder(cacheDirs(dir).cache).filter((f) => path.basename(f).startsWith(".")).length, 0)
    }))

  describe("corruption is detected, quarantined and recomputed", () => {
    it.effect("a flipped byte in a blob", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        const { call, outputBlobs, runs } = setup(dir)
        const first = yield* call(2000)
        const [blob] = outputBlobs()
        flipByte(blob!, 100)
        const second = yield* call(2000)
        assert.strictEqual(runs(), 2)
        assert.deepStrictEqual(Array.from(second.w), Array.from(first.w))
        const quarantined = fs.readdirSync(cacheDirs(dir).quarantine)
        assert.isTrue(quarantined.some((f) => f.startsWith("blob-") && !f.endsWith(".reason")))
        assert.isTrue(quarantined.some((f) => f.startsWith("manifest-") && !f.endsWith(".reason")))
        // The recomputed entry replaced it.
        yield* call(2000)
        assert.strictEqual(runs(), 2)
      }))

    it.effect("a truncated manifest", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        const { call, runs } = setup(dir)
        yield* call(10)
        const [manifest] = entriesIn(cacheDirs(dir).manifests)
        fs.truncateSync(manifest!, Math.floor(fs.statSync(manifest!).size / 2))
        const again = yield* call(10)
        assert.strictEqual(runs(), 2)
        assert.strictEqual(again.label, "n=10")
        const reasons = fs.readdirSync(cacheDirs(dir).quarantine).filter((f) => f.endsWith(".reason"))
        assert.strictEqual(reasons.length, 1)
        assert.match(fs.readFileSync(path.join(cacheDirs(dir).quarantine, reasons[0]!), "utf8"), /checksum|truncated/)
        yield* call(10)
        assert.strictEqual(runs(), 2)
      }))

    it.effect("a deleted blob", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        const { call, outputBlobs, runs } = setup(dir)
        yield* call(3000)
        const [blob] = outputBlobs()
        fs.unlinkSync(blob!)
        yield* call(3000)
        assert.strictEqual(runs(), 2)
        assert.isTrue(fs.readdirSync(cacheDirs(dir).quarantine).some((f) => f.startsWith("manifest-")))
        assert.isTrue(fs.existsSync(blob!), "the blob is written again")
        yield* call(3000)
        assert.strictEqual(runs(), 2)
      }))
  })

  it.effect("the code parts are not the output: gone, the entry is still served and verifies; corrupt, verify reports and moves them aside", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const { call, codeParts, outputBlobs, runs, verify } = setup(dir)
      const first = yield* call(2000)
      assert.isTrue(fs.existsSync(codeParts))
      assert.strictEqual(outputBlobs().length, 1)
      flipByte(codeParts, 5)
      const report = yield* verify({ repair: true })
      assert.isFalse(report.ok)
      assert.deepStrictEqual(report.badBlobs.map((b) => [b.reason, b.codeParts]), [["content does not match its digest", true]])
      assert.isFalse(fs.existsSync(codeParts), "moved aside")
      assert.deepStrictEqual(Array.from((yield* call(2000)).w), Array.from(first.w))
      assert.strictEqual(runs(), 1, "served without them")
      assert.isTrue((yield* verify()).ok)
    }))

  it.effect("a name that could leave the cache folder is an error, not a path", () =>
    Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      for (const bad of ["../../etc/passwd", "..", "a/b/c", ""]) {
        const error = yield* Effect.flip(store.getManifest(bad))
        assert.strictEqual(error._tag, "CacheStoreError")
        assert.match(error.message, /is not a valid cache key/)
        const blobError = yield* Effect.flip(store.putBlob(bad, new Uint8Array(1)))
        assert.match(blobError.message, /is not a valid blob digest/)
      }
    }).pipe(Effect.provide(LocalCacheStore.layer(tmpDir()))))

  it.effect("a manifest removed between listing and reading is a miss", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      const key = "ab".repeat(32)
      yield* store.putManifest(TestRecipes.manifest(key))
      fs.renameSync(entriesIn(cacheDirs(dir).manifests)[0]!, path.join(dir, "elsewhere"))
      assert.isTrue(Option.isNone(yield* store.getManifest(key)))
      assert.deepStrictEqual(yield* store.listManifests, [])
    }).pipe(Effect.provide(LocalCacheStore.layer(dir)))
  })

  it.live("restores exactly what was stored at every size around its first-read buffer (16 KiB)", () =>
    Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      const sizes = [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000]
      for (const size of sizes) {
        const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) % 256)
        const digest = String(size).padStart(64, "0")
        yield* store.putBlob(digest, data)
      }
      const restored: Array<Uint8Array> = []
      for (const size of sizes) restored.push(Option.getOrThrow(yield* store.getBlob(String(size).padStart(64, "0"))))
      // Read all before comparing: a later read must not overwrite an earlier result.
      sizes.forEach((size, i) => assert.deepStrictEqual(restored[i], Uint8Array.from({ length: size }, (_, j) => (j * 7 + size) % 256), `size ${size}`))
    }).pipe(Effect.provide(LocalCacheStore.layer(tmpDir(), { fsync: false }))))

  it.live("stores and restores a blob larger than the chunk size in one buffer", () =>
    Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      const big = new Uint8Array(20 * 1024 * 1024 + 3)
      for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251
      const digest = "f".repeat(64)
      yield* store.putBlob(digest, big)
      const read = Option.getOrThrow(yield* store.getBlob(digest))
      assert.strictEqual(read.byteLength, big.byteLength)
      assert.isTrue(Buffer.from(read.buffer, read.byteOffset, read.byteLength).equals(big))
      assert.strictEqual(read.buffer.byteLength, big.byteLength, "a buffer of exactly the blob's size")
    }).pipe(Effect.provide(LocalCacheStore.layer(tmpDir(), { fsync: false }))))
})
