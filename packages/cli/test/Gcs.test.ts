import { assert, describe, it } from "@effect/vitest"
import { FakeGcsServer } from "@expops/backend-gcs/testing"
import { afterAll, beforeAll } from "vitest"
import { cliAsync, copyProject, editConfig, manifestKeys } from "./helpers.ts"

let fake: FakeGcsServer.FakeGcsServer
beforeAll(async () => {
  fake = await FakeGcsServer.start({ buckets: ["team-cache"] })
})
afterAll(() => fake.close())

/** A copy of the example using the fake bucket. */
const gcsProject = (bucket = "team-cache") => {
  const dir = copyProject()
  editConfig(dir, /      backend: local.*\n/, `      backend: gcs\n      gcs:\n        bucket: ${bucket}\n`)
  return dir
}

const expops = (args: Array<string>) => cliAsync(args, { env: { EXPOPS_GCS_ENDPOINT: fake.url } })

describe("expops with backend: gcs", () => {
  it("two machines share the bucket: the second serves every process from it", async () => {
    const first = gcsProject()
    const second = gcsProject()
    const cold = await expops(["run", first, "--json"])
    assert.strictEqual(cold.status, 0, cold.stderr)
    const coldReport = JSON.parse(cold.stdout)
    assert.match(coldReport.run.backend, /gcs/)
    assert.isTrue(coldReport.processes.every((p: any) => p.status === "executed"))

    // The second copy has no local cache at all.
    assert.deepStrictEqual(manifestKeys(second), [])
    const warm = await expops(["run", second, "--json"])
    assert.strictEqual(warm.status, 0, warm.stderr)
    assert.isTrue(JSON.parse(warm.stdout).processes.every((p: any) => p.status === "cached"))

    const runs = JSON.parse((await expops(["runs", "ls", second, "--json"])).stdout)
    assert.strictEqual(runs.length, 2)
    const verify = await expops(["cache", "verify", second])
    assert.strictEqual(verify.status, 0, verify.stderr)
    const why = await expops(["explain", second, "train_model"])
    assert.match(why.stdout, /a hit/)
  })

  it("a bucket that does not exist is a startup error naming it (exit 2), before anything runs", async () => {
    const dir = gcsProject("no-such-bucket")
    const result = await expops(["run", dir, "--json"])
    assert.strictEqual(result.status, 2)
    assert.strictEqual(result.stdout, "")
    assert.match(result.stderr, /gcs backend: GCS bucket no-such-bucket does not exist/)
    assert.deepStrictEqual(manifestKeys(dir), [])
  })

  it("--backend gcs without a gcs section names where to add it", async () => {
    const dir = copyProject()
    const result = await expops(["run", dir, "--backend", "gcs"])
    assert.strictEqual(result.status, 2)
    assert.match(result.stderr, /project_config\.yaml:13: model\.parameters\.cache: --backend gcs needs a gcs section here/)
  })
})
