import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { FakeGcsServer } from "@expops/backend-gcs/testing"
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

  it.live("renewed from a worker thread: the lease stays fresh while the main thread is blocked, a takeover is noticed, release deletes", () =>
    Effect.gen(function*() {
      // The server in a process of its own: this thread is about to block, and could not answer the worker.
      const url = yield* separateServer
      const machine = () => client({ url } as FakeGcsServer.FakeGcsServer)
      const generation = () =>
        Effect.promise(async () => {
          const [exists] = await machine().bucket.file(object).exists()
          return exists ? Number((await machine().bucket.file(object).getMetadata())[0].generation) : undefined
        })
      const fast = { heartbeatMs: 100, expiryMs: 400, maxWaitMs: 10_000, pollMs: 50 }
      const leases = GcsCacheLease.make(machine(), fast, { owner: "blocked" }, { renewOffThread: true })
      const other = GcsCacheLease.make(machine(), fast, { owner: "other" })
      const attempt = yield* leases.acquire(key)
      if (attempt._tag !== "Acquired") return assert.fail("expected to acquire")
      const acquired = (yield* generation())!
      // The thread starts with the first lease held and loads the GCS client first, which on a
      // busy machine can take longer than the block below: wait (bounded) for its first renewal,
      // so the block tests renewing while blocked, not how fast a thread starts.
      const first = yield* eventually(Effect.map(generation(), (now) => now !== undefined && now > acquired ? now : undefined))
      // A synchronous stretch of 1 s, more than twice the expiry: nothing on this thread can renew.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000)
      assert.isAbove((yield* generation())!, first, "renewed meanwhile")
      const seen = yield* other.acquire(key)
      assert.isTrue(seen._tag === "Held" && !seen.stale, "still fresh to another machine")
      yield* attempt.lease.release
      assert.isUndefined(yield* generation(), "released with the generation the thread wrote last")

      // Taken over behind the thread's back: its next renewal gets 412, and the owner learns it lost the lease.
      const again = yield* leases.acquire(key)
      if (again._tag !== "Acquired") return assert.fail("expected to acquire")
      yield* Effect.promise(() => machine().bucket.file(object).save("{}"))
      // The thread's next renewal (every 100 ms) is refused; `renew` only asks whether it was.
      assert.isTrue(yield* eventually(Effect.map(again.lease.renew, (held) => held ? undefined : true)), "the takeover was noticed")
      assert.isFalse(yield* again.lease.renew)
      yield* again.lease.release
      assert.isDefined(yield* generation(), "the new owner's lease is not deleted")
    }))
})

/**
 * The first defined answer of `poll`, asked every 50 ms of real time for at most 20 s (the
 * test fails with a timeout otherwise): for what a worker thread or another process does in
 * its own time, which no TestClock drives.
 */
const eventually = <A, E>(poll: Effect.Effect<A | undefined, E>) =>
  Effect.gen(function*() {
    while (true) {
      const answer = yield* poll
      if (answer !== undefined) return answer
      yield* Effect.sleep("50 millis")
    }
  }).pipe(Effect.timeout("20 seconds"))

/** The fake server as a child process, for the enclosing scope: its url. */
const separateServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly child: ChildProcess; readonly url: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [fileURLToPath(new URL("../src/testing/FakeGcsServer.ts", import.meta.url)), "--bucket", BUCKET], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      child.on("error", reject)
      child.stdout!.once("data", (chunk) => resolve({ child, url: JSON.parse(String(chunk)).url }))
    })
  ),
  ({ child }) => Effect.sync(() => child.kill())
).pipe(Effect.map(({ url }) => url))
