/**
 * Several OS processes on one cache folder: four run the same pipeline at
 * once; all succeed with identical outputs and leave a cache that verifies,
 * whether they store each entry in a file or pack them as they go (then
 * they pack, read, and remove files the others are packing and reading).
 */
import { assert, describe, it } from "@effect/vitest"
import { CacheAdmin } from "@expops/core"
import { Effect } from "effect"
import { LocalBackend } from "@expops/backend-local"
import { runToEnd } from "./fixtures/child.ts"
import { cacheDirs, filesUnder } from "./fixtures/files.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const VARIANTS = [10, 11]
const STEPS = 120

describe("LocalBackend concurrency", () => {
  for (const [title, env] of [
    ["four processes running the same pipeline on one cache folder", {}],
    ["four processes running it at once while packing every 16 entries", { FIXTURE_PACK_EVERY: "16" }]
  ] as const) {
    it.live(title, () =>
      Effect.gen(function*() {
        const shared = tmpDir("shared")
        const results = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 4 }, () => runToEnd(shared, VARIANTS, { FIXTURE_STEPS: String(STEPS), ...env })))
        )
        const reference = yield* Effect.promise(() => runToEnd(tmpDir("alone"), VARIANTS, { FIXTURE_STEPS: String(STEPS), FIXTURE_FSYNC: "0" }))
        for (const lines of results) {
          assert.deepStrictEqual(lines.map((l) => [l.variant, l.status, l.summary]), reference.map((l) => [l.variant, l.status, l.summary]))
        }
        const { stats, verify } = yield* Effect.gen(function*() {
          const admin = yield* CacheAdmin.CacheAdmin
          return { verify: yield* admin.verify(), stats: yield* admin.stats }
        }).pipe(Effect.provide(LocalBackend.layer(shared, { packOnClose: 0 })))
        assert.isTrue(verify.ok, JSON.stringify(verify))
        assert.strictEqual(stats.entries, VARIANTS.length * (STEPS + 2), "one entry per step call and process, no duplicates")
        assert.deepStrictEqual(filesUnder(cacheDirs(shared).quarantine), [])
        assert.deepStrictEqual(verify.orphanBlobs, [])
        if ("FIXTURE_PACK_EVERY" in env) assert.isAbove(filesUnder(cacheDirs(shared).packs).filter((f) => f.endsWith(".pack")).length, 0)
      }), 120_000)
  }
})
