/**
 * What leases add to a miss on the local backend: 1,000 misses of a
 * 100-byte output through `Cache.memoize`, with and without
 * `LocalCacheLease`, in alternating rounds (no fsync, so the lease's own
 * file operations are what differs). Prints each round's µs per miss and
 * the medians. Loads @expops/* from dist/ (build first: `npx tsc -b`).
 *
 *   npx node bench/leaseMiss.ts
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cache } from "@expops/core"
import { TestRecipes } from "@expops/core/testing"
import { LocalCacheLease, LocalCacheStore } from "@expops/backend-local"
import { Effect, Layer, Schema } from "effect"
const N = 1000
const measure = async (withLease: boolean) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "leasecost-"))
  const store = LocalCacheStore.layerWithoutIndex(path.join(dir, "cache"), { fsync: false })
  const layer = withLease
    ? Layer.provideMerge(Cache.layer(), Layer.merge(store, LocalCacheLease.layer(path.join(dir, "cache"))))
    : Layer.provideMerge(Cache.layer(), store)
  const program = Effect.gen(function*() {
    const cache = yield* Cache.Cache
    const t0 = performance.now()
    for (let i = 0; i < N; i++) {
      const key = i.toString(16).padStart(64, "0")
      yield* cache.memoize({ key, recipe: TestRecipes.placeholder("s"), schema: Schema.String, compute: Effect.succeed("x".repeat(100)) })
    }
    return (performance.now() - t0) / N * 1000
  })
  const us = await Effect.runPromise(Effect.provide(program, layer))
  fs.rmSync(dir, { recursive: true, force: true })
  return us
}
const rounds: Array<[number, number]> = []
for (let r = 0; r < 11; r++) rounds.push([await measure(false), await measure(true)])
console.log(JSON.stringify(rounds.map(([a, b]) => [Math.round(a), Math.round(b)])))
const med = (xs: Array<number>) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log("median without", Math.round(med(rounds.map((r) => r[0]))), "with", Math.round(med(rounds.map((r) => r[1]))))
