/**
 * Packs: manifests packed into one file read with `pread` must behave
 * exactly as manifest files do (the conformance suite runs over a store that
 * packs after every write, in LocalCacheStore.test.ts); these tests cover
 * what only packs have: several processes holding one pack open, packing
 * racing a deletion, a damaged pack, and the space deleted records take.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CacheAdmin, Manifest } from "@expops/core"
import { TestRecipes } from "@expops/core/testing"
import { Effect, Logger, Option } from "effect"
import { LocalBackend, LocalCacheStore } from "@expops/backend-local"
import { filesUnder } from "./fixtures/files.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const keyOf = (i: number) => i.toString(16).padStart(64, "0")

/** A store over `dir` that packs only when told; each call is another view of it, as another process has. */
const open = (dir: string, options?: LocalCacheStore.Options) =>
  Effect.runSync(LocalCacheStore.make(dir, undefined, { fsync: false, packOnClose: 0, ...options }))

const put = (store: LocalCacheStore.Shape, i: number) =>
  Effect.runSync(store.putManifest(TestRecipes.manifest(keyOf(i), { output: { i, text: "x".repeat(i) } })))

const outputOf = (store: LocalCacheStore.Shape, i: number) =>
  Option.getOrUndefined(Effect.runSync(store.getManifest(keyOf(i))))?.output

const packFiles = (dir: string) => filesUnder(path.join(dir, "packs")).filter((f) => f.endsWith(".pack"))
const manifestFiles = (dir: string) => filesUnder(path.join(dir, "manifests")).filter((f) => !path.basename(f).startsWith("."))

describe("LocalCacheStore packs", () => {
  it("packs the manifest files every packEvery writes, and reads, lists and deletes packed entries as files", () => {
    const dir = tmpDir()
    const store = open(dir, { packEvery: 4 })
    for (let i = 0; i < 10; i++) assert.isTrue(put(store, i))
    // 10 writes, packed at the 4th and the 8th: two left in their files.
    assert.strictEqual(manifestFiles(dir).length, 2)
    assert.isAbove(packFiles(dir).length, 0)
    for (let i = 0; i < 10; i++) assert.deepStrictEqual(outputOf(store, i), { i, text: "x".repeat(i) })
    assert.isFalse(put(store, 3), "a packed entry is write-once too")
    const listed = Effect.runSync(store.listManifests)
    assert.deepStrictEqual(listed.map((m) => m.key).sort(), Array.from({ length: 10 }, (_, i) => keyOf(i)))
    for (const { key, size } of listed) {
      const stored = Manifest.encode(Option.getOrThrow(Effect.runSync(store.peekManifest(key))))
      assert.strictEqual(size, stored.byteLength, `size of ${key}`)
    }
    Effect.runSync(store.deleteManifest(keyOf(2)))
    assert.isUndefined(outputOf(store, 2))
    assert.isUndefined(outputOf(open(dir), 2), "the deletion is on disk")
    assert.isFalse(Effect.runSync(store.manifestKeys).has(keyOf(2)))
  })

  it.effect("a store packs what it wrote when its layer closes, unless it wrote fewer than packOnClose entries", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const run = (from: number, count: number) =>
        Effect.gen(function*() {
          const store = yield* LocalCacheStore.LocalCacheStore
          for (let i = from; i < from + count; i++) put(store, i)
        }).pipe(Effect.provide(LocalCacheStore.layerWithoutIndex(dir, { fsync: false, packOnClose: 64 })))
      yield* run(0, 10)
      assert.deepStrictEqual(packFiles(dir), [])
      assert.strictEqual(manifestFiles(dir).length, 10)
      yield* run(10, 64)
      assert.strictEqual(packFiles(dir).length, 1)
      assert.deepStrictEqual(manifestFiles(dir), [], "the files of earlier runs are packed too")
      for (let i = 0; i < 74; i++) assert.deepStrictEqual(outputOf(open(dir), i), { i, text: "x".repeat(i) })
    }))

  it("a deletion is seen at once by another process holding the pack open", () => {
    const dir = tmpDir()
    const writer = open(dir)
    for (let i = 0; i < 3; i++) put(writer, i)
    Effect.runSync(writer.pack)
    const reader = open(dir)
    assert.deepStrictEqual(outputOf(reader, 1), { i: 1, text: "x" })
    Effect.runSync(open(dir).deleteManifest(keyOf(1)))
    assert.isUndefined(outputOf(reader, 1))
    assert.deepStrictEqual(outputOf(reader, 0), { i: 0, text: "" })
  })

  it("an entry packed by another process is found at once, though its file is gone", () => {
    const dir = tmpDir()
    const reader = open(dir)
    const writer = open(dir)
    put(writer, 5)
    assert.deepStrictEqual(outputOf(reader, 5), { i: 5, text: "xxxxx" })
    Effect.runSync(writer.pack)
    assert.deepStrictEqual(manifestFiles(dir), [])
    assert.deepStrictEqual(outputOf(reader, 5), { i: 5, text: "xxxxx" })
  })

  it("an entry deleted while it is being packed stays deleted", () => {
    const dir = tmpDir()
    for (let i = 0; i < 4; i++) put(open(dir), i)
    const deleter = open(dir)
    // The deletion lands after the packer copied the files and before it publishes the pack.
    const packer = open(dir, {
      io: {
        renameSync: (from, to) => {
          if (String(to).endsWith(".pack")) Effect.runSync(deleter.deleteManifest(keyOf(1)))
          fs.renameSync(from, to)
        }
      }
    })
    assert.strictEqual(Effect.runSync(packer.pack).records, 4)
    assert.isUndefined(outputOf(packer, 1))
    assert.isUndefined(outputOf(open(dir), 1))
    assert.deepStrictEqual(outputOf(open(dir), 2), { i: 2, text: "xx" })
  })

  it("a pack whose table is damaged is moved to the quarantine; its entries are misses, and are stored again", () => {
    const dir = tmpDir()
    const first = open(dir)
    for (let i = 0; i < 3; i++) put(first, i)
    Effect.runSync(first.pack)
    const [pack] = packFiles(dir)
    const file = path.join(dir, "packs", pack!)
    const bytes = fs.readFileSync(file)
    bytes[20] = bytes[20]! ^ 0x01 // in the first slot's key
    fs.writeFileSync(file, bytes)
    const store = open(dir)
    const warnings: Array<string> = []
    const logger = Logger.make(({ message }) => warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" ")))
    const found = Effect.runSync(store.getManifest(keyOf(0)).pipe(Effect.provide(Logger.layer([logger]))))
    assert.isTrue(Option.isNone(found))
    assert.match(warnings.join("\n"), /is not a valid pack \(its table does not match its checksum\); moved to the quarantine/)
    assert.deepStrictEqual(packFiles(dir), [])
    assert.isTrue(filesUnder(path.join(dir, "quarantine")).some((f) => f.startsWith("pack-")))
    assert.isTrue(put(store, 0))
    assert.deepStrictEqual(outputOf(open(dir), 0), { i: 0, text: "" })
  })

  it("verify reports a pack it cannot read, now in the quarantine, and is not ok", async () => {
    const project = tmpDir()
    const cache = path.join(project, ".expops", "cache")
    const store = open(cache)
    for (let i = 0; i < 3; i++) put(store, i)
    Effect.runSync(store.pack)
    const file = path.join(cache, "packs", packFiles(cache)[0]!)
    fs.truncateSync(file, fs.statSync(file).size - 10)
    const report = await Effect.runPromise(Effect.gen(function*() {
      return yield* (yield* CacheAdmin.CacheAdmin).verify()
    }).pipe(Effect.provide(LocalBackend.layer(project))))
    assert.isFalse(report.ok)
    assert.deepStrictEqual(report.damaged?.map((d) => d.file), [file])
    assert.match(report.damaged![0]!.reason, /^truncated/)
    assert.strictEqual(report.manifests, 0)
    assert.deepStrictEqual(packFiles(cache), [])
  })

  it("a pack that cannot be read fails the read with an error naming the pack and the cause, and loses nothing", () => {
    const dir = tmpDir()
    const store = open(dir)
    put(store, 1)
    fs.mkdirSync(path.join(dir, "packs", "in-the-way.pack"), { recursive: true })
    const error = Effect.runSync(Effect.flip(open(dir).getManifest(keyOf(1))))
    assert.strictEqual(error._tag, "CacheStoreError")
    assert.include(error.message, path.join(dir, "packs", "in-the-way.pack"))
    assert.include(error.message, "(EISDIR)")
    fs.rmdirSync(path.join(dir, "packs", "in-the-way.pack"))
    assert.deepStrictEqual(outputOf(open(dir), 1), { i: 1, text: "x" })
  })

  it("deleting most of a pack's entries rewrites it without them; deleting all removes it", () => {
    const dir = tmpDir()
    const store = open(dir)
    for (let i = 0; i < 8; i++) put(store, i)
    Effect.runSync(store.pack)
    const before = fs.statSync(path.join(dir, "packs", packFiles(dir)[0]!)).size
    Effect.runSync(store.deleteManifests([0, 1, 2, 3, 4].map(keyOf)))
    const [rewritten, ...others] = packFiles(dir)
    assert.deepStrictEqual(others, [])
    assert.isBelow(fs.statSync(path.join(dir, "packs", rewritten!)).size, before / 2)
    assert.deepStrictEqual([...Effect.runSync(store.manifestKeys)].sort(), [5, 6, 7].map(keyOf))
    for (const i of [5, 6, 7]) assert.deepStrictEqual(outputOf(open(dir), i), { i, text: "x".repeat(i) })
    Effect.runSync(store.deleteManifests([5, 6, 7].map(keyOf)))
    assert.deepStrictEqual(packFiles(dir), [])
  })

  it("packing merges the smaller packs, so a growing store keeps few", () => {
    const dir = tmpDir()
    const store = open(dir, { packEvery: 2 })
    for (let i = 0; i < 64; i++) put(store, i)
    // 32 packings of 2 entries each, merged as a binary counter: one pack per bit of 32.
    assert.isAtMost(packFiles(dir).length, 6)
    assert.deepStrictEqual(manifestFiles(dir), [])
    for (let i = 0; i < 64; i++) assert.deepStrictEqual(outputOf(open(dir), i), { i, text: "x".repeat(i) })
  })

  it("a packer that died leaves a lock that the next packing takes over", () => {
    const dir = tmpDir()
    const store = open(dir)
    put(store, 1)
    fs.mkdirSync(path.join(dir, "packs"), { recursive: true })
    // A pid that is not running here.
    fs.writeFileSync(path.join(dir, "packs", ".lock"), `${os.hostname()} 2147483646\n`)
    assert.strictEqual(Effect.runSync(store.pack).records, 1)
    assert.isFalse(fs.existsSync(path.join(dir, "packs", ".lock")))
  })
})
