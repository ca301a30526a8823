import { assert, describe, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import { ClusterStorage } from "@expops/cluster"
import { Duration, Effect, Fiber, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import * as Postgres from "../src/testing/Postgres.ts"

describe("ClusterStorage.watch", () => {
  it.effect("PostgreSQL gone for the wait: a ClusterStorageLostError whose cause is the driver's error, errno included", () =>
    Effect.gen(function*() {
      // Nobody listens there: every query is refused at once (the client connects lazily, on the first query).
      const port = yield* Effect.promise(Postgres.freePort)
      const target = yield* ClusterStorage.parse(`postgres://alice@127.0.0.1:${port}/expops`)
      const client = PgClient.layer({ url: Redacted.make(target.url), connectTimeout: Duration.seconds(5) })
      const fiber = yield* ClusterStorage.watch(target, 0).pipe(
        Effect.provide(Layer.orDie(client)),
        Effect.flip,
        Effect.forkChild
      )
      // The first query comes after one pause of the watch.
      yield* TestClock.adjust(Duration.seconds(2))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ClusterStorageLostError")
      assert.match(error.reason, /ECONNREFUSED/)
      assert.match(error.message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} has not answered for 0 s`))
      // The reason is a summary; the cause keeps what it summarises, down to the socket's errno.
      let deepest: any = error.cause
      while (deepest?.cause !== undefined) deepest = deepest.cause
      assert.isDefined(error.cause)
      assert.strictEqual(deepest?.code, "ECONNREFUSED")
    }))
})
