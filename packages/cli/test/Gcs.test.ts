import { assert, describe, it } from "@effect/vitest"
import { GcsBackend } from "@expops/backend-gcs"
import { FakeGcsServer } from "@expops/backend-gcs/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { cli, copyProject, editConfig, json, manifestKeys } from "./helpers.ts"

let fake: FakeGcsServer.FakeGcsServer
beforeAll(async () => {
  fake = await FakeGcsServer.start({ buckets: ["team-cache"] })
})
afterAll(() => fake.close())

/** The backend pointed at the fake server, as the environment would point it (read through `Config`). */
const atFake = () => ({ env: { [GcsBackend.ENDPOINT_ENV]: fake.url } })
const gcsCli = (args: ReadonlyArray<string>) => cli(args, atFake())

/** A copy of the example using the fake bucket. */
const gcsProject = (bucket = "team-cache") => {
  const dir = copyProject()
  editConfig(dir, /      backend: local.*\n/, `      backend: gcs\n      gcs:\n        bucket: ${bucket}\n`)
  return dir
}

describe("expops with backend: gcs", () => {
  it.live("two machines share the bucket: the second serves every process from it", () =>
    Effect.gen(function*() {
      const first = gcsProject()
      const second = gcsProject()
      const cold = yield* gcsCli(["run", first, "--json"])
      assert.strictEqual(cold.status, 0, cold.stderr)
      const coldReport = JSON.parse(cold.stdout)
      assert.match(coldReport.run.backend, /gcs/)
      assert.isTrue(coldReport.processes.every((p: any) => p.status === "executed"))

      // The second copy has no local cache at all.
      assert.deepStrictEqual(manifestKeys(second), [])
      const warm = yield* gcsCli(["run", second, "--json"])
      assert.strictEqual(warm.status, 0, warm.stderr)
      assert.isTrue(JSON.parse(warm.stdout).processes.every((p: any) => p.status === "cached"))

      const runs = yield* json<Array<unknown>>(["runs", "ls", second], 0, atFake())
      assert.strictEqual(runs.length, 2)
      const verify = yield* gcsCli(["cache", "verify", second])
      assert.strictEqual(verify.status, 0, verify.stderr)
      const why = yield* gcsCli(["explain", second, "train_model"])
      assert.match(why.stdout, /a hit/)
    }))

  it.live("a bucket that does not exist is a startup error naming it (exit 2), before anything runs", () =>
    Effect.gen(function*() {
      const dir = gcsProject("no-such-bucket")
      const result = yield* gcsCli(["run", dir, "--json"])
      assert.strictEqual(result.status, 2)
      assert.strictEqual(result.stdout, "")
      assert.match(result.stderr, /gcs backend: GCS bucket no-such-bucket does not exist/)
      assert.deepStrictEqual(manifestKeys(dir), [])
    }))

  it.live("--backend gcs without a gcs section names where to add it", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const result = yield* gcsCli(["run", dir, "--backend", "gcs"])
      assert.strictEqual(result.status, 2)
      assert.match(result.stderr, /project_config\.yaml:13: model\.parameters\.cache: --backend gcs needs a gcs section here/)
    }))
})
