import { assert, describe, it } from "@effect/vitest"
import { CacheLeaseConformance } from "@expops/core/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { GcsCacheLease } from "@expops/backend-gcs"
import { BUCKET, client, server } from "./fixtures/gcs.ts"

let owners = 0
// Each owner its own client, as each machine has: they share only the bucket of the fake server.
CacheLeaseConformance.suite("gcs", (settings) =>
  Effect.map(server(), (fake) => ({
    owner: () => Effect.sync(() => GcsCacheLease.make(client(fake), settings, { owner: `machine ${++owners}` }))
  })))

const settings = CacheLeaseConformance.settings
const key = "e".repeat(64)
const object = `expops/demo/cache/leases/${key}`

describe("GcsCacheLease", () => {
  it.effect("the lease is an object beside the entries naming its owner and expiry; each change is a new generation; release deletes it", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const leases = GcsCacheLease.make(client(fake), settings, { owner: "pid 7 on build-1", token: "t1" })
      yield* TestClock.setTime(10_000)
      const attempt = yield* leases.acquire(key)
      if (attempt._tag !== "Acquired") return assert.fail("expected to acquire")
      const first = fake.objects(BUCKET).get(object)!
      assert.deepStrictEqual(first.metadata, { owner: "pid 7 on build-1", token: "t1", expiresAt: String(10_000 + settings.expiryMs) })
      yield* TestClock.adjust(1_000)
      assert.isTrue(yield* attempt.lease.renew)
      const second = fake.objects(BUCKET).get(object)!
      assert.isAbove(second.generation, first.generation)
      assert.strictEqual(second.metadata?.expiresAt, String(11_000 + settings.expiryMs))
      yield* attempt.lease.release
      assert.isFalse(fake.objects(BUCKET).has(object))
    }))

  it.effect("a takeover is conditional on the generation seen expired: the old owner can neither renew nor delete the new lease", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const a = GcsCacheLease.make(client(fake), settings, { owner: "a" })
      const b = GcsCacheLease.make(client(fake), settings, { owner: "b" })
      const old = yield* a.acquire(key)
      if (old._tag !== "Acquired") return assert.fail("expected to acquire")
      const generation = fake.objects(BUCKET).get(object)!.generation
      yield* TestClock.adjust(settings.expiryMs + 1)
      const seen = yield* b.acquire(key)
      if (seen._tag !== "Held") return assert.fail("expected held")
      assert.strictEqual(seen.version, generation)
      assert.isTrue(seen.stale)
      assert.strictEqual((yield* b.takeOver(key, seen))._tag, "Acquired")
      assert.strictEqual(fake.objects(BUCKET).get(object)!.metadata.owner, "b")
      assert.isFalse(yield* old.lease.renew)
      yield* old.lease.release
      assert.strictEqual(fake.objects(BUCKET).get(object)!.metadata.owner, "b", "still b's lease")
      // A writer that ignores preconditions would have replaced it: the fake answers 412 to a stale generation.
      const failed = fake.requests.filter((r) => r.name === object && r.status === 412)
      assert.isAtLeast(failed.length, 2, "the old owner's renewal and delete were refused by their preconditions")
    }))
})
