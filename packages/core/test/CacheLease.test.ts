import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Random, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Cache, CacheLease, CacheStore } from "@expops/core"
import { CacheLeaseConformance, TestRecipes } from "@expops/core/testing"

CacheLeaseConformance.suite("memory", (settings) =>
  Effect.sync(() => {
    const table = new Map<string, CacheLease.MemoryLease>()
    let owners = 0
    return { owner: () => Effect.sync(() => CacheLease.makeMemory({ table, owner: `owner ${++owners}`, settings })) }
  }))

const settings: CacheLease.Settings = { heartbeatMs: 1_000, expiryMs: 5_000, maxWaitMs: 20_000, pollMs: 500 }
const key = "k".repeat(64)

/** Two "processes" over one store and one lease table: each its own `Cache`, as two OS processes would have. */
const twoRuns = (options?: { readonly settings?: CacheLease.Settings; readonly alive?: (owner: string) => boolean }) => {
  const store = CacheStore.makeMemory()
  const table = new Map<string, CacheLease.MemoryLease>()
  const run = (owner: string) => {
    const leases = CacheLease.makeMemory({ table, owner, settings: options?.settings ?? settings, alive: options?.alive })
    const cache = Cache.make().pipe(Effect.provideService(CacheStore.CacheStore, store), Effect.provideService(CacheLease.CacheLease, leases))
    return { leases, cache }
  }
  return { store, table, a: run("A"), b: run("B") }
}

const memoized = (cache: Cache.Shape, compute: Effect.Effect<string, string>, onWait?: Effect.Effect<void>) =>
  cache.memoize({ key, recipe: TestRecipes.placeholder("fit"), schema: Schema.String, compute, onWait })

/** Moves the clock in beats, letting the fibers run between them. */
const advance = (ms: number, beat = settings.pollMs) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += beat) yield* TestClock.adjust(beat)
  })

describe("CacheLease", () => {
  it("settings: defaults, and one timing given keeps the other in proportion", () => {
    assert.deepStrictEqual(CacheLease.settings({}), CacheLease.defaultSettings)
    const fast = CacheLease.settings({ heartbeatSeconds: 0.1 })
    assert.deepStrictEqual([fast.heartbeatMs, fast.expiryMs, fast.pollMs], [100, 30_000, 50])
    const short = CacheLease.settings({ expirySeconds: 1.5 })
    assert.deepStrictEqual([short.heartbeatMs, short.expiryMs], [500, 1_500])
    assert.strictEqual(CacheLease.settings({ maxWaitSeconds: 2 }).maxWaitMs, 2_000)
  })

  it.effect("the owner's heartbeat keeps its lease fresh for as long as it computes, and it is released after", () =>
    Effect.gen(function*() {
      const { a, b } = twoRuns()
      const cacheA = yield* a.cache
      const gate = yield* Deferred.make<void>()
      const owner = yield* Effect.forkChild(memoized(cacheA, Effect.as(Deferred.await(gate), "trained")))
      yield* Effect.yieldNow
      yield* advance(settings.expiryMs * 4, settings.heartbeatMs)
      const seen = yield* b.leases.acquire(key)
      assert.strictEqual(seen._tag, "Held")
      assert.isFalse(seen._tag === "Held" && seen.stale, "renewed by its heartbeat")
      yield* Deferred.succeed(gate, undefined)
      const outcome = yield* Fiber.join(owner)
      assert.isFalse(outcome.cached)
      assert.isUndefined(outcome.waitedMs)
      assert.strictEqual((yield* b.leases.acquire(key))._tag, "Acquired")
    }))

  it.effect("a run finding the key being computed waits and is served the entry: cached, with the time it waited", () =>
    Effect.gen(function*() {
      const { a, b } = twoRuns()
      const [cacheA, cacheB] = [yield* a.cache, yield* b.cache]
      const gate = yield* Deferred.make<void>()
      const waiting = yield* Deferred.make<void>()
      let computed = 0
      const compute = Effect.suspend(() => {
        computed++
        return Effect.as(Deferred.await(gate), "trained")
      })
      const owner = yield* Effect.forkChild(memoized(cacheA, compute))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(memoized(cacheB, compute, Deferred.succeed(waiting, undefined).pipe(Effect.asVoid)))
      yield* Deferred.await(waiting)
      yield* advance(3_000)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(owner)
      yield* advance(settings.pollMs)
      const served = yield* Fiber.join(waiter)
      assert.strictEqual(computed, 1)
      assert.isTrue(served.cached)
      assert.strictEqual(served.value, "trained")
      assert.isAtLeast(served.waitedMs!, 3_000)
      assert.isAtMost(served.waitedMs!, 3_000 + settings.pollMs)
    }))

  it.effect("a failed computation releases its lease: the waiter computes for itself", () =>
    Effect.gen(function*() {
      const { a, b } = twoRuns()
      const [cacheA, cacheB] = [yield* a.cache, yield* b.cache]
      const gate = yield* Deferred.make<void>()
      const owner = yield* Effect.forkChild(memoized(cacheA, Effect.andThen(Deferred.await(gate), Effect.fail("out of memory"))))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(memoized(cacheB, Effect.succeed("computed by B")))
      yield* advance(1_000)
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Effect.flip(Fiber.join(owner)), "out of memory")
      yield* advance(settings.pollMs)
      const outcome = yield* Fiber.join(waiter)
      assert.isFalse(outcome.cached)
      assert.strictEqual(outcome.value, "computed by B")
      assert.isAtLeast(outcome.waitedMs!, 1_000)
    }))

  it.effect("an interrupted computation releases its lease", () =>
    Effect.gen(function*() {
      const { a, b } = twoRuns()
      const cacheA = yield* a.cache
      const owner = yield* Effect.forkChild(memoized(cacheA, Effect.never))
      yield* Effect.yieldNow
      assert.strictEqual((yield* b.leases.acquire(key))._tag, "Held")
      yield* Fiber.interrupt(owner)
      assert.strictEqual((yield* b.leases.acquire(key))._tag, "Acquired")
    }))

  it.effect("a waiter never waits past maxWaitMs: it computes for itself, leaving the live owner's lease alone", () =>
    Effect.gen(function*() {
      const bounded = { ...settings, maxWaitMs: 3_000 }
      const { a, b } = twoRuns({ settings: bounded })
      const [cacheA, cacheB] = [yield* a.cache, yield* b.cache]
      yield* Effect.forkChild(memoized(cacheA, Effect.never))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(memoized(cacheB, Effect.succeed("computed by B")))
      yield* advance(bounded.maxWaitMs + bounded.pollMs)
      const exit = waiter.pollUnsafe()
      if (exit === undefined || Exit.isFailure(exit)) return assert.fail(`the waiter is still waiting or failed: ${exit}`)
      const outcome = exit.value
      assert.isFalse(outcome.cached)
      assert.isAtLeast(outcome.waitedMs!, bounded.maxWaitMs)
      const seen = yield* b.leases.acquire(key)
      assert.isTrue(seen._tag === "Held" && !seen.stale, "the owner still holds its lease")
    }))

  it.effect("a lease whose owner died is taken over at once, without waiting for its expiry", () =>
    Effect.gen(function*() {
      const dead = new Set<string>()
      const { a, b } = twoRuns({ alive: (owner) => !dead.has(owner) })
      const cacheB = yield* b.cache
      yield* a.leases.acquire(key)
      dead.add("A")
      const outcome = yield* memoized(cacheB, Effect.succeed("computed by B"))
      assert.isFalse(outcome.cached)
      assert.isUndefined(outcome.waitedMs)
    }))

  it.effect("a backend that cannot keep leases (a read-only bucket) costs coordination, never the run: the miss is computed", () =>
    Effect.gen(function*() {
      const refusing: CacheLease.Shape = {
        backend: "gcs",
        settings,
        acquire: (k) => Effect.fail(new CacheStore.CacheStoreError({ backend: "gcs", operation: "acquire lease", location: k, reason: "403 forbidden" })),
        takeOver: (k) => Effect.fail(new CacheStore.CacheStoreError({ backend: "gcs", operation: "take over lease", location: k, reason: "403 forbidden" }))
      }
      const cache = yield* Cache.make().pipe(
        Effect.provideService(CacheStore.CacheStore, CacheStore.makeMemory()),
        Effect.provideService(CacheLease.CacheLease, refusing)
      )
      const outcome = yield* memoized(cache, Effect.succeed("computed anyway"))
      assert.isFalse(outcome.cached)
      assert.strictEqual(outcome.value, "computed anyway")
    }))

  it.effect("without a lease service a miss computes at once, as before", () =>
    Effect.gen(function*() {
      const cache = yield* Cache.make().pipe(Effect.provideService(CacheStore.CacheStore, CacheStore.makeMemory()))
      const outcome = yield* memoized(cache, Effect.succeed("x"))
      assert.isFalse(outcome.cached)
      assert.isTrue(Option.isSome(yield* cache.lookup(key, Schema.String)))
    }))

  it.effect("two seeds of one key, each drawing random numbers: the run that waited stores its own entry (a variant), and both seeds hit after", () =>
    Effect.gen(function*() {
      const { a, b } = twoRuns()
      const [cacheA, cacheB] = [yield* a.cache, yield* b.cache]
      const gate = yield* Deferred.make<void>()
      // Drawn from the seeded Random: the entry holds for its seed only.
      const draw = (wait: Effect.Effect<void>) => Effect.andThen(wait, Effect.map(Random.next, (x) => x.toFixed(12)))
      const seeded = (cache: Cache.Shape, seed: number, wait: Effect.Effect<void>) =>
        cache.memoize({ key, recipe: TestRecipes.placeholder("fit"), schema: Schema.String, compute: draw(wait), seed })
      const first = yield* Effect.forkChild(seeded(cacheA, 1, Deferred.await(gate)))
      yield* Effect.yieldNow
      // B misses the same key while A holds its lease: it waits, then finds A's entry, which is seed 1's.
      const second = yield* Effect.forkChild(seeded(cacheB, 2, Effect.void))
      yield* advance(settings.pollMs * 2)
      yield* Deferred.succeed(gate, undefined)
      yield* advance(settings.pollMs * 4)
      const [one, two] = [yield* Fiber.join(first), yield* Fiber.join(second)]
      assert.isFalse(one.cached)
      assert.isFalse(two.cached, "seed 2 computed its own value")
      assert.notStrictEqual(two.key, one.key, "stored under a variant of the key")
      assert.notStrictEqual(two.value, one.value)
      for (const [seed, outcome] of [[1, one], [2, two]] as const) {
        const again = yield* seeded(cacheB, seed, Effect.die("computed again"))
        assert.isTrue(again.cached, `seed ${seed} hits`)
        assert.strictEqual(again.value, outcome.value)
      }
    }))
})
