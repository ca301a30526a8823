import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Cache, CacheAdmin, CacheStore, CodeParts, Manifest, Reproducibility, Step } from "@expops/core"
import { Effect, Exit, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { LocalBackend, LocalCacheStore } from "@expops/backend-local"
import { cacheDirs, entriesIn } from "./fixtures/files.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const backend = (dir: string) => Layer.provideMerge(Cache.layer(), Layer.merge(LocalBackend.layer(dir), Reproducibility.layer(1)))

/** Steps whose outputs carry a blob of `fill` (so entries can share blobs), counting executions. */
const makeSteps = () => {
  const runs: Record<string, number> = {}
  const step = (name: string) =>
    Step.make({
      name,
      input: Schema.Struct({ i: Schema.Int, fill: Schema.Int }),
      output: Schema.instanceOf(Float64Array),
      run: function*({ fill, i }) {
        runs[`${name}${i}`] = (runs[`${name}${i}`] ?? 0) + 1
        return new Float64Array(1024).fill(fill)
      }
    })
  return { a: step("a"), b: step("b"), runs }
}

describe("LocalCacheAdmin", () => {
  it.effect("stats and list come from the index, per name, newest first", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { a, b } = makeSteps()
      for (let i = 0; i < 3; i++) {
        yield* a({ i, fill: i })
        yield* TestClock.adjust(1000)
      }
      yield* b({ i: 0, fill: 0 }) // shares its blob with a0
      const admin = yield* CacheAdmin.CacheAdmin
      const stats = yield* admin.stats
      assert.strictEqual(stats.entries, 4)
      // Three outputs' blobs, and each step's code parts (one blob per definition, see CodeParts).
      const codeParts = new Map([a, b].map((step) => [CodeParts.encode(step.codeParts).digest, CodeParts.encode(step.codeParts).size]))
      assert.strictEqual(codeParts.size, 2)
      assert.strictEqual(stats.blobs, 3 + 2)
      assert.strictEqual(stats.blobBytes, 3 * 8192 + [...codeParts.values()].reduce((n, size) => n + size, 0))
      assert.deepStrictEqual(stats.byName.map((r) => [r.kind, r.name, r.entries]), [["step", "a", 3], ["step", "b", 1]])
      assert.strictEqual(stats.bytes, stats.byName.reduce((n, r) => n + r.bytes, 0))
      assert.isAbove(stats.bytes, 4 * 8192)
      const listed = yield* admin.list()
      assert.deepStrictEqual(listed.map((e) => e.createdAt), [3000, 2000, 1000, 0])
      assert.deepStrictEqual((yield* admin.list({ name: "a" })).map((e) => e.name), ["a", "a", "a"])
      assert.deepStrictEqual(yield* admin.list({ kind: "process" }), [])
    }).pipe(Effect.provide(backend(dir)))
  })

  it.effect("a peek, explain's and maintenance's read, does not count as a use of an entry; a read does", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { a } = makeSteps()
      yield* a({ i: 0, fill: 0 })
      const admin = yield* CacheAdmin.CacheAdmin
      const store = yield* CacheStore.CacheStore
      const [entry] = yield* admin.list()
      yield* TestClock.adjust(5000)
      yield* store.peekManifest(entry!.key)
      yield* admin.verify()
      yield* admin.stats
      assert.strictEqual((yield* admin.list())[0]!.lastAccessAt, entry!.lastAccessAt)
      yield* store.getManifest(entry!.key)
      assert.strictEqual((yield* admin.list())[0]!.lastAccessAt, entry!.lastAccessAt + 5000)
      // Rebuilding the index from the files keeps the uses it had recorded.
      yield* admin.verify({ repair: true })
      assert.strictEqual((yield* admin.list())[0]!.lastAccessAt, entry!.lastAccessAt + 5000)
    }).pipe(Effect.provide(backend(dir)))
  })

  it.effect("the index catches up with entries written without it and files removed behind its back", () => {
    const dir = tmpDir()
    const { cache } = cacheDirs(dir)
    const { a } = makeSteps()
    const unindexed = Layer.provideMerge(Cache.layer(), Layer.merge(LocalCacheStore.layerWithoutIndex(cache), Reproducibility.layer(1)))
    return Effect.gen(function*() {
      yield* a({ i: 1, fill: 1 }).pipe(Effect.provide(unindexed))
      yield* a({ i: 2, fill: 2 }).pipe(Effect.provide(unindexed))
      const admin = yield* CacheAdmin.CacheAdmin
      assert.strictEqual((yield* admin.list()).length, 2)
      fs.unlinkSync(entriesIn(cacheDirs(dir).manifests)[0]!)
      assert.strictEqual((yield* admin.list()).length, 1)
      assert.strictEqual((yield* admin.stats).entries, 1)
    }).pipe(Effect.provide(LocalBackend.layer(dir)))
  })

  it.effect("verify reports a corrupt manifest and a missing blob; repair moves them aside and rebuilds the index", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { a, runs } = makeSteps()
      for (const i of [1, 2, 3]) {
        yield* a({ i, fill: i })
        yield* TestClock.adjust(1000)
      }
      const admin = yield* CacheAdmin.CacheAdmin
      assert.isTrue((yield* admin.verify()).ok)
      const { blobs, manifests } = cacheDirs(dir)
      const entries = yield* admin.list() // newest first: 3, 2, 1
      // Corrupt entry 1's manifest; delete entry 2's blob.
      const manifestOf = (key: string) => path.join(manifests, key.slice(0, 2), key)
      const bytes = fs.readFileSync(manifestOf(entries[2]!.key))
      bytes[bytes.length - 5] ^= 0x20
      fs.writeFileSync(manifestOf(entries[2]!.key), bytes)
      const stored = Manifest.decode(fs.readFileSync(manifestOf(entries[1]!.key)), entries[1]!.key)
      assert.isTrue(Exit.isSuccess(stored) && Option.isSome(stored.value))
      const blobOf2 = (stored as Exit.Success<Option.Some<Manifest.Manifest>>).value.value.blobs[0]!.digest
      fs.unlinkSync(path.join(blobs, blobOf2.slice(0, 2), blobOf2))

      const report = yield* admin.verify()
      assert.isFalse(report.ok)
      assert.deepStrictEqual(report.corrupt.map((c) => c.key), [entries[2]!.key])
      assert.match(report.corrupt[0]!.reason, /checksum/)
      assert.deepStrictEqual(report.badBlobs.map((b) => [b.key, b.digest, b.reason]), [[entries[1]!.key, blobOf2, "missing"]])
      assert.isTrue(fs.existsSync(manifestOf(entries[2]!.key)), "verify alone changes nothing")

      const repaired = yield* admin.verify({ repair: true })
      assert.isTrue(repaired.repaired)
      assert.isTrue((yield* admin.verify()).ok)
      assert.deepStrictEqual((yield* admin.list()).map((e) => e.key), [entries[0]!.key])
      assert.strictEqual(fs.readdirSync(cacheDirs(dir).quarantine).filter((f) => !f.endsWith(".reason")).length, 2)
      // The two are recomputed; the intact one is served.
      yield* a({ i: 1, fill: 1 })
      yield* a({ i: 2, fill: 2 })
      yield* a({ i: 3, fill: 3 })
      assert.deepStrictEqual(runs, { a1: 2, a2: 2, a3: 1 })
    }).pipe(Effect.provide(backend(dir)))
  })

  it.effect("prune keeps the most recently used entries within the budget and never orphans a manifest", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { a, runs } = makeSteps()
      // Ten entries created a second apart; entries with equal `i % 3` share a blob.
      for (let i = 0; i < 10; i++) {
        yield* a({ i, fill: i % 3 })
        yield* TestClock.adjust(1000)
      }
      yield* TestClock.adjust(10_000)
      // Use the two oldest: they become the most recently used.
      yield* a({ i: 0, fill: 0 })
      yield* TestClock.adjust(1000)
      yield* a({ i: 1, fill: 1 })
      const admin = yield* CacheAdmin.CacheAdmin
      const entries = yield* admin.list()
      const inputOf = (e: CacheAdmin.EntrySummary) => e.createdAt / 1000
      const keptInputs = [0, 1, 8, 9]
      // Sizes differ by a few bytes (digits of timestamps): budget exactly the four expected survivors.
      const budget = entries.filter((e) => keptInputs.includes(inputOf(e))).reduce((n, e) => n + e.size, 0)

      const dry = yield* admin.prune({ maxSizeBytes: budget, dryRun: true })
      assert.isTrue(dry.dryRun)
      assert.strictEqual((yield* admin.list()).length, 10, "a dry run removes nothing")

      const report = yield* admin.prune({ maxSizeBytes: budget })
      assert.deepStrictEqual(report.removed.map(inputOf).sort(), [2, 3, 4, 5, 6, 7])
      assert.deepStrictEqual(dry.removed.map(inputOf).sort(), [2, 3, 4, 5, 6, 7])
      assert.strictEqual(report.kept, 4)
      assert.strictEqual(report.keptBytes, budget)
      assert.deepStrictEqual((yield* admin.list()).map(inputOf).sort(), keptInputs)
      assert.isTrue((yield* admin.verify()).ok, "every kept manifest still has its blobs")
      // Kept: 1 and 0 (used last), then 9 and 8 (created last).
      const before = { ...runs }
      for (const i of keptInputs) yield* a({ i, fill: i % 3 })
      assert.deepStrictEqual(runs, before, "the kept entries are hits")
      yield* a({ i: 5, fill: 5 % 3 })
      assert.strictEqual(runs.a5, 2, "a pruned entry is recomputed")
      // Blobs: 0, 1 and 2 fills are all still referenced by kept entries (8 -> 2, 9 -> 0), and the step's code parts; none more.
      assert.strictEqual((yield* admin.stats).blobs, 3 + 1)
    }).pipe(Effect.provide(backend(dir)))
  })

  it.effect("prune by age removes entries unused for longer than the limit, and the blobs only they used", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { a } = makeSteps()
      yield* a({ i: 0, fill: 100 })
      yield* a({ i: 1, fill: 1 })
      yield* TestClock.adjust(60_000)
      yield* a({ i: 2, fill: 1 }) // shares a blob with the old entry 1
      yield* a({ i: 3, fill: 3 })
      const admin = yield* CacheAdmin.CacheAdmin
      const report = yield* admin.prune({ olderThanMs: 30_000 })
      assert.strictEqual(report.removed.length, 2)
      assert.strictEqual(report.kept, 2)
      const stats = yield* admin.stats
      assert.strictEqual(stats.entries, 2)
      assert.strictEqual(stats.blobs, 2 + 1, "the blob of fill 100 is gone, the shared one and the step's code parts stay")
      assert.isTrue((yield* admin.verify()).ok)
    }).pipe(Effect.provide(backend(dir)))
  })

  it.effect("clear removes every entry, blob and quarantined file", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { a, runs } = makeSteps()
      yield* a({ i: 0, fill: 0 })
      yield* a({ i: 1, fill: 1 })
      const admin = yield* CacheAdmin.CacheAdmin
      const result = yield* admin.clear
      assert.strictEqual(result.removed, 2)
      assert.isAbove(result.freedBytes, 2 * 8192)
      assert.strictEqual((yield* admin.stats).entries, 0)
      assert.deepStrictEqual(entriesIn(cacheDirs(dir).cache), [])
      yield* a({ i: 0, fill: 0 })
      assert.strictEqual(runs.a0, 2)
    }).pipe(Effect.provide(backend(dir)))
  })
})
