/**
 * One computation per key across OS processes: real `expops run` processes
 * (the built bin under Node 24) started at once on one cold project, sharing
 * its folder, or on two folders sharing one bucket of the fake GCS server.
 * Each step body of the fixture appends a line to a counter file, so the
 * test counts the executions of every key across processes.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as Path from "node:path"
import { GcsBackend } from "@expops/backend-gcs"
import { FakeGcsServer } from "@expops/backend-gcs/testing"
import { afterAll, beforeAll } from "vitest"
import { copyProject, editConfig, repoRoot, spawnCli, tempDir } from "./helpers.ts"

const fixture = Path.join(repoRoot, "packages/cli/test/fixtures/leased")

let fake: FakeGcsServer.FakeGcsServer
beforeAll(async () => {
  fake = await FakeGcsServer.start({ buckets: ["shared-cache"], log: false })
})
afterAll(() => fake.close())

/** Executions per step, from the counter file: `{ fit: [pid, ...], ... }`. */
const executions = (counter: string): Record<string, Array<number>> => {
  const out: Record<string, Array<number>> = {}
  if (!fs.existsSync(counter)) return out
  for (const line of fs.readFileSync(counter, "utf8").split("\n")) {
    if (line === "") continue
    const [step, pid] = line.split(" ")
    ;(out[step!] ??= []).push(Number(pid))
  }
  return out
}

const keysOf = (report: any) => report.processes.map((p: any) => `${p.name}=${p.key}`).join(" ")

/** Runs `expops run DIR --json` in a process of its own; `started` gets the child once spawned. */
const runIn = (dir: string, env: Record<string, string>, started?: (child: ChildProcess) => void) =>
  spawnCli(["run", dir, "--json"], { env, onStderr: (_text, child) => started?.(child) })

/** Polls (real time: other processes are at work) until `done`, for at most `ms`. */
const until = async (done: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("one computation per key across processes", () => {
  it("four processes on one cold project: every key computed once in total, all succeed with the same keys, waiters report cached with waitedMs", async () => {
    const dir = copyProject(fixture)
    const counter = Path.join(tempDir(), "counter.log")
    const results = await Promise.all([1, 2, 3, 4].map(() => runIn(dir, { LEASED_COUNTER: counter })))
    for (const r of results) assert.strictEqual(r.status, 0, r.stderr)
    const reports = results.map((r) => JSON.parse(r.stdout))
    const counts = Object.fromEntries(Object.entries(executions(counter)).map(([step, pids]) => [step, pids.length]))
    assert.deepStrictEqual(counts, { parse: 1, fit: 1, score: 1 })
    for (const report of reports) assert.strictEqual(keysOf(report), keysOf(reports[0]))
    const executed = reports.flatMap((r) => r.processes.flatMap((p: any) => p.steps.filter((s: any) => s.status === "executed")))
    assert.strictEqual(executed.length, 3, "three steps executed across the four runs")
    // The runs that found `train` being computed waited for it and were served it.
    const waited = reports.flatMap((r) => r.processes.filter((p: any) => p.waitedMs !== undefined))
    assert.isAtLeast(waited.length, 1, JSON.stringify(reports.map((r) => r.processes)))
    for (const p of waited) {
      assert.strictEqual(p.status, "cached")
      assert.isAbove(p.waitedMs, 0)
    }
    assert.match(results.find((r) => /waited/.test(r.stderr))?.stderr ?? "", /cached \(waited [\d.]+ m?s on another run/)
    // No lease is left behind.
    assert.deepStrictEqual(fs.readdirSync(Path.join(dir, ".expops/cache/leases")), [])
  })

  it("a process SIGKILLed while holding a lease: another takes it over and finishes", async () => {
    const dir = copyProject(fixture)
    const counter = Path.join(tempDir(), "counter.log")
    const children: Array<ChildProcess> = []
    const runs = [1, 2, 3].map(() =>
      runIn(dir, { LEASED_COUNTER: counter, LEASED_HOLD: "1" }, (child) => {
        if (!children.includes(child)) children.push(child)
      })
    )
    // The first `fit` never finishes: kill the process running it.
    await until(() => (executions(counter).fit?.length ?? 0) >= 1)
    const holder = executions(counter).fit![0]!
    process.kill(holder, "SIGKILL")
    const results = await Promise.all(runs)
    const killed = results.filter((r) => r.signal === "SIGKILL")
    const finished = results.filter((r) => r.signal === null)
    assert.strictEqual(killed.length, 1)
    assert.strictEqual(finished.length, 2)
    for (const r of finished) assert.strictEqual(r.status, 0, r.stderr)
    const reports = finished.map((r) => JSON.parse(r.stdout))
    assert.strictEqual(keysOf(reports[0]), keysOf(reports[1]))
    const fits = executions(counter).fit!
    assert.strictEqual(fits.length, 2, "the killed execution and the one that took over")
    assert.notStrictEqual(fits[1], holder)
    assert.strictEqual(executions(counter).score!.length, 1)
    assert.strictEqual(executions(counter).parse!.length, 1)
  })

  it("an owner whose body blocks its event loop past the lease's expiry keeps its lease on its machine: computed once", async () => {
    const dir = copyProject(fixture)
    const counter = Path.join(tempDir(), "counter.log")
    // 2.2 s of synchronous work, past the 1.5 s expiry: no heartbeat runs meanwhile.
    const env = { LEASED_COUNTER: counter, LEASED_BLOCK_MS: "2200" }
    const results = await Promise.all([runIn(dir, env), runIn(dir, env)])
    for (const r of results) assert.strictEqual(r.status, 0, r.stderr)
    assert.strictEqual(executions(counter).fit!.length, 1)
  })

  it("an interrupted run (SIGINT) releases its leases", async () => {
    const dir = copyProject(fixture)
    const counter = Path.join(tempDir(), "counter.log")
    let child: ChildProcess | undefined
    const run = runIn(dir, { LEASED_COUNTER: counter, LEASED_HOLD: "1" }, (c) => (child = c))
    await until(() => (executions(counter).fit?.length ?? 0) >= 1)
    assert.isNotEmpty(fs.readdirSync(Path.join(dir, ".expops/cache/leases")), "held while computing")
    child!.kill("SIGINT")
    const result = await run
    assert.notStrictEqual(result.status, 0)
    assert.deepStrictEqual(fs.readdirSync(Path.join(dir, ".expops/cache/leases")), [])
  })
})

describe("one computation per key across machines on one bucket", () => {
  /** A "machine": its own copy of the project (its own local tier), on the shared bucket. */
  const machine = () => {
    const dir = copyProject(fixture)
    editConfig(dir, /      backend: local\n/, "      backend: gcs\n      gcs:\n        bucket: shared-cache\n")
    return dir
  }
  const env = (counter: string, extra?: Record<string, string>) => ({ LEASED_COUNTER: counter, [GcsBackend.ENDPOINT_ENV]: fake.url, ...extra })

  it("two machines cold at once: each key computed once between them, same keys", async () => {
    const [a, b] = [machine(), machine()]
    editConfig(a, "name: leased", "name: leased-two")
    editConfig(b, "name: leased", "name: leased-two")
    const counter = Path.join(tempDir(), "counter.log")
    const results = await Promise.all([runIn(a, env(counter)), runIn(b, env(counter))])
    for (const r of results) assert.strictEqual(r.status, 0, r.stderr)
    const counts = Object.fromEntries(Object.entries(executions(counter)).map(([step, pids]) => [step, pids.length]))
    assert.deepStrictEqual(counts, { parse: 1, fit: 1, score: 1 })
    const reports = results.map((r) => JSON.parse(r.stdout))
    assert.strictEqual(keysOf(reports[0]), keysOf(reports[1]))
    assert.isTrue(reports.some((r) => r.processes.some((p: any) => p.status === "cached" && p.waitedMs !== undefined)))
    // The leases were in the bucket, and are gone.
    assert.deepStrictEqual([...fake.objects("shared-cache").keys()].filter((n) => n.includes("leased-two/cache/leases/")), [])
  })

  it("an owner whose body blocks its event loop past the expiry keeps its lease (renewed from a worker thread): computed once", async () => {
    const [a, b] = [machine(), machine()]
    editConfig(a, "name: leased", "name: leased-block")
    editConfig(b, "name: leased", "name: leased-block")
    const counter = Path.join(tempDir(), "counter.log")
    const blocking = env(counter, { LEASED_BLOCK_MS: "2200" })
    const results = await Promise.all([runIn(a, blocking), runIn(b, blocking)])
    for (const r of results) assert.strictEqual(r.status, 0, r.stderr)
    assert.strictEqual(executions(counter).fit!.length, 1)
    assert.deepStrictEqual([...fake.objects("shared-cache").keys()].filter((n) => n.includes("leased-block/cache/leases/")), [])
  })

  it("a machine killed while holding a lease: the other takes it over once it expires, and finishes", async () => {
    const [a, b] = [machine(), machine()]
    editConfig(a, "name: leased", "name: leased-kill")
    editConfig(b, "name: leased", "name: leased-kill")
    const counter = Path.join(tempDir(), "counter.log")
    const runs = [runIn(a, env(counter, { LEASED_HOLD: "1" })), runIn(b, env(counter, { LEASED_HOLD: "1" }))]
    await until(() => (executions(counter).fit?.length ?? 0) >= 1)
    const killedAt = Date.now()
    process.kill(executions(counter).fit![0]!, "SIGKILL")
    const results = await Promise.all(runs)
    const tookOverAfter = Date.now() - killedAt
    const finished = results.filter((r) => r.signal === null)
    assert.strictEqual(finished.length, 1)
    assert.strictEqual(finished[0]!.status, 0, finished[0]!.stderr)
    assert.strictEqual(executions(counter).fit!.length, 2)
    // Another host cannot see the pid die: only the expiry (1.5 s) frees the lease.
    assert.isAtLeast(tookOverAfter, 1_000)
    const report = JSON.parse(finished[0]!.stdout)
    const train = report.processes.find((p: any) => p.name === "train")
    assert.strictEqual(train.status, "executed")
    assert.isAbove(train.waitedMs, 0)
  })
})
