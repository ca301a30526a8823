/**
 * The conformance suite every `CacheLease` implementation must pass: leases
 * are exclusive, renewing keeps them fresh, a lease not renewed goes stale
 * after its expiry, of concurrent takers of a stale lease exactly one wins,
 * and the owner it was taken from learns it lost it. Time is the
 * `TestClock`'s: the suite moves it, nothing sleeps.
 *
 * ```ts
 * import { CacheLeaseConformance } from "@expops/core/testing"
 * CacheLeaseConformance.suite("local", (settings) =>
 *   Effect.sync(() => {
 *     const dir = tmpDir()
 *     return { owner: () => LocalCacheLease.make(dir, settings, { pid: process.pid, token: randomUUID() }) }
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as CacheLease from "../CacheLease.ts"

/**
 * A backend under test: each call of `owner` is a new owner over the same
 * storage, as another process or machine would be.
 *
 * @since 0.1.0
 */
export interface Backend {
  readonly owner: () => Effect.Effect<CacheLease.Shape, unknown, Scope.Scope>
}

/**
 * The timings the suite runs with (on the test clock).
 *
 * @since 0.1.0
 */
export const settings: CacheLease.Settings = { heartbeatMs: 1_000, expiryMs: 5_000, maxWaitMs: 60_000, pollMs: 500 }

const key = (c: string) => c.repeat(64)

const acquired = (attempt: CacheLease.Attempt): CacheLease.Lease => {
  if (attempt._tag !== "Acquired") assert.fail(`expected the lease to be acquired, it is held by ${attempt.owner}`)
  return attempt.lease
}

const held = (attempt: CacheLease.Attempt): CacheLease.Held => {
  if (attempt._tag !== "Held") return assert.fail("expected the lease to be held by another owner, it was acquired")
  return attempt
}

/**
 * Registers the suite. `make` is called once per test, so each test starts
 * with no lease.
 *
 * @since 0.1.0
 */
export const suite = (name: string, make: (settings: CacheLease.Settings) => Effect.Effect<Backend, unknown, Scope.Scope>): void => {
  const run = <A, E>(body: (backend: Backend) => Effect.Effect<A, E, Scope.Scope>) =>
    Effect.scoped(Effect.flatMap(make(settings), body))

  describe(`CacheLease conformance: ${name}`, () => {
    it.effect("a free key is acquired; other owners find it held and fresh", () =>
      run((backend) =>
        Effect.gen(function*() {
          const a = yield* backend.owner()
          const b = yield* backend.owner()
          acquired(yield* a.acquire(key("a")))
          const seen = held(yield* b.acquire(key("a")))
          assert.isFalse(seen.stale)
          assert.isString(seen.owner)
          // Another key is independent.
          acquired(yield* b.acquire(key("b")))
        })
      ))

    it.effect("a released lease is free for the next owner; releasing twice is harmless", () =>
      run((backend) =>
        Effect.gen(function*() {
          const a = yield* backend.owner()
          const b = yield* backend.owner()
          const lease = acquired(yield* a.acquire(key("a")))
          yield* lease.release
          yield* lease.release
          acquired(yield* b.acquire(key("a")))
          held(yield* a.acquire(key("a")))
        })
      ))

    it.effect("renewing keeps a lease fresh past its expiry; without renewal it goes stale", () =>
      run((backend) =>
        Effect.gen(function*() {
          const a = yield* backend.owner()
          const b = yield* backend.owner()
          const lease = acquired(yield* a.acquire(key("a")))
          for (let i = 0; i < 4; i++) {
            yield* TestClock.adjust(settings.expiryMs * 0.6)
            assert.isTrue(yield* lease.renew)
            assert.isFalse(held(yield* b.acquire(key("a"))).stale, `fresh after renewal ${i + 1}`)
          }
          yield* TestClock.adjust(settings.expiryMs * 0.6)
          assert.isFalse(held(yield* b.acquire(key("a"))).stale, "within its expiry")
          yield* TestClock.adjust(settings.expiryMs * 0.6)
          assert.isTrue(held(yield* b.acquire(key("a"))).stale, "past its expiry")
        })
      ))

    it.effect("of concurrent takers of a stale lease exactly one wins; the old owner learns it lost it", () =>
      run((backend) =>
        Effect.gen(function*() {
          const old = yield* backend.owner()
          const takers = yield* Effect.all([backend.owner(), backend.owner(), backend.owner(), backend.owner()])
          const lease = acquired(yield* old.acquire(key("a")))
          yield* TestClock.adjust(settings.expiryMs + 1)
          const seen = yield* Effect.forEach(takers, (t) => Effect.map(t.acquire(key("a")), held))
          for (const s of seen) assert.isTrue(s.stale)
          const results = yield* Effect.forEach(takers, (t, i) => t.takeOver(key("a"), seen[i]!), { concurrency: "unbounded" })
          const winners = results.filter((r) => r._tag === "Acquired")
          assert.strictEqual(winners.length, 1, `winners: ${winners.length}`)
          for (const r of results) if (r._tag === "Held") assert.isFalse(r.stale, "the losers see the winner's fresh lease")
          assert.isFalse(yield* lease.renew, "the old owner's renewal fails")
          // The old owner's release does not free the winner's lease.
          yield* lease.release
          assert.isFalse(held(yield* old.acquire(key("a"))).stale)
        })
      ))

    it.effect("taking over a lease that was renewed or released meanwhile answers what is there now", () =>
      run((backend) =>
        Effect.gen(function*() {
          const a = yield* backend.owner()
          const b = yield* backend.owner()
          const lease = acquired(yield* a.acquire(key("a")))
          yield* TestClock.adjust(settings.expiryMs + 1)
          const stale = held(yield* b.acquire(key("a")))
          assert.isTrue(stale.stale)
          // The owner was only slow: it renews before the taker acts.
          assert.isTrue(yield* lease.renew)
          const late = held(yield* b.takeOver(key("a"), stale))
          assert.isFalse(late.stale)
          assert.isTrue(yield* lease.renew, "the owner still holds its lease")
          // Released meanwhile: the taker simply acquires it.
          yield* TestClock.adjust(settings.expiryMs + 1)
          const again = held(yield* b.acquire(key("a")))
          yield* lease.release
          acquired(yield* b.takeOver(key("a"), again))
        })
      ))

    it.effect("a waiter under the protocol is served when the owner stores, and takes over when the owner stops renewing", () =>
      run((backend) =>
        Effect.gen(function*() {
          const a = yield* backend.owner()
          const b = yield* backend.owner()
          acquired(yield* a.acquire(key("a")))
          let calls = 0
          const counted: CacheLease.Shape = {
            ...b,
            acquire: (k) => Effect.ensuring(b.acquire(k), Effect.sync(() => calls++)),
            takeOver: (k, h) => Effect.ensuring(b.takeOver(k, h), Effect.sync(() => calls++))
          }
          // The owner never stores nor renews: past the expiry, the waiter takes over and computes.
          const fiber = yield* Effect.forkChild(
            CacheLease.coordinate(counted, key("a"), { lookup: Effect.succeedNone, compute: Effect.succeed("computed here") })
          )
          // The waiter's lease reads may be real I/O: after each beat, let them finish before the next.
          yield* settle(() => calls > 0 || fiber.pollUnsafe() !== undefined)
          for (let i = 0; i * settings.pollMs <= settings.expiryMs * 2 && fiber.pollUnsafe() === undefined; i++) {
            const before = calls
            yield* TestClock.adjust(settings.pollMs)
            yield* settle(() => calls > before || fiber.pollUnsafe() !== undefined)
          }
          yield* settle(() => fiber.pollUnsafe() !== undefined)
          const done = yield* fiberJoin(fiber)
          assert.strictEqual(done._tag, "Computed")
          assert.strictEqual(done.value, "computed here")
          assert.isAtLeast(done.waitedMs!, settings.expiryMs)
          // It released the lease when done.
          acquired(yield* a.acquire(key("a")))
        })
      ))
  })
}

const fiberJoin = <A, E>(fiber: Fiber.Fiber<A, E>) => Fiber.join(fiber)

/** Lets real I/O run (never the test clock) until `done`, for at most 5 s. */
const settle = (done: () => boolean): Effect.Effect<void> =>
  Effect.promise(async () => {
    const until = performance.now() + 5_000
    while (!done() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 1))
  })
