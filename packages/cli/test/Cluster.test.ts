/**
 * `expops worker` and `expops run --cluster` on a real PostgreSQL (started
 * here from Debian's packages) with runners as OS processes: a seed fan-out
 * spread over runners, a runner SIGKILLed mid-run, a second run all cached,
 * two drivers at once, and the errors a user can act on.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { cpSync, readdirSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import type { RunReport } from "@expops/core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Effect } from "effect"
import { bin, cli, copyProject, editConfig, editFile, repoRoot, spawnCli, tempDir } from "./helpers.ts"
import * as Postgres from "@expops/cluster/testing/Postgres"

interface Worker {
  readonly child: ChildProcess
  readonly address: Promise<string>
  log: string
}

const startWorker = (dir: string, url: string): Worker => {
  // Its own process group: killing the group takes its executor processes too, as a lost machine would.
  const child = spawn(process.execPath, [bin, "worker", dir, "--cluster", url, "--concurrency", "1"], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1" },
    detached: true,
    stdio: ["ignore", "ignore", "pipe"]
  })
  const worker: Worker = {
    child,
    log: "",
    address: new Promise((resolve, reject) => {
      child.on("exit", (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before joining:\n${worker.log}`)))
      child.stderr!.on("data", (chunk) => {
        worker.log += chunk
        const joined = /runner (\S+) joined/.exec(worker.log)
        if (joined) resolve(joined[1]!)
      })
    })
  }
  return worker
}

const kill = (worker: Worker) => {
  try {
    process.kill(-worker.child.pid!, "SIGKILL")
  } catch {
    // already gone
  }
}

const report = (stdout: string): RunReport.RunReport => JSON.parse(stdout)

/** Each process of a run's report executed or cached, by name. */
const statuses = (r: RunReport.RunReport) => Object.fromEntries(r.processes.map((p) => [p.name, p.status]))

/** How many times the workers' logs say each key was computed. */
const executions = (workers: ReadonlyArray<Worker>) => {
  const counts = new Map<string, number>()
  for (const w of workers) for (const m of w.log.matchAll(/ executed in \d+ ms \(key (\w+)\)/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1)
  return counts
}

let pg: Postgres.Postgres
let project: string
const workers: Array<Worker> = []

beforeAll(async () => {
  pg = await Postgres.start()
  project = copyProject()
  editConfig(project, /(- name: prepare\n(\s+))parameters:/, "$1seed_parallelism:\n$2  seeds: [1, 2, 3, 4, 5, 6]\n$2parameters:")
  // Long enough for a runner to be killed while it trains a branch.
  editConfig(project, /epochs: \d+/, "epochs: 4000")
  for (let i = 0; i < 3; i++) workers.push(startWorker(project, pg.url))
  await Promise.all(workers.map((w) => w.address))
}, 60_000)

afterAll(() => {
  for (const w of workers) kill(w)
  pg?.stop()
})

describe("expops run --cluster (PostgreSQL, three worker processes)", () => {
  it("runs a 6-seed fan-out over the runners; a runner SIGKILLed mid-run is replaced; each key stored once", async () => {
    let killed: { address: string; node: string } | undefined
    const driver = spawnCli(["run", project, "--cluster", pg.url, "--json"])
    // Kill the first runner seen starting a training branch, while it trains.
    const victim = await new Promise<{ worker: Worker; node: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no runner started a branch:\n${workers.map((w) => w.log).join("\n")}`)), 30_000)
      const poll = setInterval(() => {
        for (const worker of workers) {
          const started = /: (train_model_seed\d) started/.exec(worker.log)
          if (started) {
            clearInterval(poll)
            clearTimeout(timer)
            resolve({ worker, node: started[1]! })
            return
          }
        }
      }, 20)
    })
    const address = await victim.worker.address
    kill(victim.worker)
    killed = { address, node: victim.node }
    const result = await driver
    assert.strictEqual(result.status, 0, result.stderr)
    const r = report(result.stdout)
    assert.strictEqual(r.run.status, "success")
    assert.strictEqual(r.processes.length, 14)
    const runners = new Set(r.processes.map((p) => p.runner))
    assert.isAtLeast(runners.size, 2, JSON.stringify(r.processes.map((p) => [p.name, p.runner])))
    for (const p of r.processes) {
      assert.strictEqual(p.status, "executed", p.name)
      assert.isAtLeast(p.queuedMs!, 0)
    }
    // The lost branch ran again, on a survivor.
    const lost = r.processes.find((p) => p.name === killed!.node)!
    assert.notStrictEqual(lost.runner, killed.address)
    // One manifest per key, each verifying against its content.
    const manifests = Path.join(project, ".expops/cache/manifests")
    const stored = readdirSync(manifests).flatMap((shard) => readdirSync(Path.join(manifests, shard)))
    for (const p of r.processes) assert.strictEqual(stored.filter((name) => name.startsWith(p.key)).length, 1, p.name)
    const verify = await spawnCli(["cache", "verify", project])
    assert.strictEqual(verify.status, 0, verify.stdout + verify.stderr)
    // The progress lines and `runs show` say where each process ran.
    assert.match(result.stderr, /load_data: executed in .* on 127\.0\.0\.1:\d+/)
    const shown = await Effect.runPromise(cli(["runs", "show", project]))
    assert.match(shown.stdout, new RegExp(`load_data +executed .* on ${r.processes[0]!.runner}, queued `))

    // A second run: all cached, served by the driver (no runner).
    const again = await spawnCli(["run", project, "--cluster", pg.url, "--json"])
    assert.strictEqual(again.status, 0, again.stderr)
    const second = report(again.stdout)
    assert.deepStrictEqual(new Set(Object.values(statuses(second))), new Set(["cached"]))
    assert.isTrue(second.processes.every((p) => p.runner === undefined))
  }, 90_000)

  it("two drivers at once on a cold project compute each process once", async () => {
    const survivors = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)
    const before = executions(survivors)
    // Another seed: new entries for what draws random numbers (load_data draws none: served across seeds).
    const [a, b] = await Promise.all([0, 1].map(() => spawnCli(["run", project, "--cluster", pg.url, "--json", "--seed", "7"])))
    assert.strictEqual(a!.status, 0, a!.stderr)
    assert.strictEqual(b!.status, 0, b!.stderr)
    const keys = report(a!.stdout).processes.map((p) => p.key)
    assert.deepStrictEqual(report(b!.stdout).processes.map((p) => p.key), keys)
    const executed = new Set([a!, b!].flatMap((r) => report(r.stdout).processes.filter((p) => p.status === "executed").map((p) => p.key)))
    assert.isAbove(executed.size, 10, "the new seed's branches ran")
    const after = executions(survivors)
    for (const key of keys) {
      const short = key.slice(0, 12)
      const times = (after.get(short) ?? 0) - (before.get(short) ?? 0)
      assert.strictEqual(times, executed.has(key) ? 1 : 0, `key ${short} computed ${times} times`)
    }
  }, 60_000)

  it("a driver interrupted mid-run and run again re-attaches to the work in flight", async () => {
    const survivors = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)
    const before = executions(survivors)
    const logged = survivors.map((w) => w.log.length)
    let interrupted = false
    let driver: ChildProcess | undefined
    const first = spawnCli(["run", project, "--cluster", pg.url, "--json", "--seed", "11"], {
      onStderr: (_, child) => (driver = child)
    })
    // Interrupt it (Ctrl-C) once a runner is training a branch for it.
    const poll = setInterval(() => {
      if (interrupted || driver === undefined) return
      if (survivors.some((w, i) => /train_model_seed\d started/.test(w.log.slice(logged[i])))) {
        interrupted = true
        driver.kill("SIGINT")
      }
    }, 20)
    const stopped = await first
    clearInterval(poll)
    assert.isTrue(interrupted, "the driver was not interrupted")
    assert.strictEqual(stopped.status, 130, stopped.stderr)
    const again = await spawnCli(["run", project, "--cluster", pg.url, "--json", "--seed", "11"])
    assert.strictEqual(again.status, 0, again.stderr)
    const after = executions(survivors)
    for (const p of report(again.stdout).processes) {
      const short = p.key.slice(0, 12)
      const times = (after.get(short) ?? 0) - (before.get(short) ?? 0)
      // Computed once between the interrupted run and this one; load_data draws no random number: served from seed 42's entry.
      assert.strictEqual(times, p.name === "load_data" ? 0 : 1, `${p.name} computed ${times} times`)
    }
  }, 60_000)

  it("a cleared cache: the stored replies of its keys are not trusted, the processes run again", async () => {
    const cleared = await Effect.runPromise(cli(["cache", "clear", project, "--yes"]))
    assert.strictEqual(cleared.status, 0, cleared.stderr)
    // Every key has a stored reply ("executed") from the first test, and no entry now.
    const again = await spawnCli(["run", project, "--cluster", pg.url, "--json"])
    assert.strictEqual(again.status, 0, again.stderr)
    const r = report(again.stdout)
    assert.strictEqual(r.run.status, "success")
    assert.isTrue(r.processes.every((p) => p.status === "executed" && p.runner !== undefined), JSON.stringify(statuses(r)))
  }, 60_000)

  it("six clients built at once on a new database all get their tables, the runner registry included", async () => {
    const { ClusterStorage } = await import("@expops/cluster")
    const SqlClient = await import("effect/sql/SqlClient")
    const url = pg.createDatabase("ddl_race")
    const tables = Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`
      return rows.map((row) => row.name)
    })
    const program = Effect.flatMap(ClusterStorage.parse(url), (target) =>
      Effect.all(Array.from({ length: 6 }, () => Effect.scoped(Effect.provide(tables, ClusterStorage.layer(target)))), {
        concurrency: "unbounded"
      }))
    const seen = await Effect.runPromise(program)
    assert.strictEqual(seen.length, 6)
    for (const names of seen) {
      assert.include(names, "expops_cluster_runners")
      assert.include(names, "cluster_messages")
    }
  }, 30_000)

  it("old finished messages and replies are deleted; a later run is unaffected", async () => {
    const { ClusterStorage } = await import("@expops/cluster")
    const SqlClient = await import("effect/sql/SqlClient")
    const count = Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM cluster_messages WHERE entity_type = 'ExpopsProcess' AND processed`
      return rows[0]!.n
    })
    const program = Effect.gen(function*() {
      const target = yield* ClusterStorage.parse(pg.url)
      return yield* Effect.gen(function*() {
        const before = yield* count
        // Nothing is that old yet: kept.
        assert.strictEqual(yield* ClusterStorage.cleanUp(1), 0)
        const deleted = yield* ClusterStorage.cleanUp(0)
        return { before, deleted, after: yield* count }
      }).pipe(Effect.provide(ClusterStorage.layer(target)))
    })
    const { after, before, deleted } = await Effect.runPromise(Effect.scoped(program))
    assert.isAbove(before, 0)
    assert.strictEqual(deleted, before)
    assert.strictEqual(after, 0)
    const again = await spawnCli(["run", project, "--cluster", pg.url, "--json"])
    assert.strictEqual(again.status, 0, again.stderr)
  }, 30_000)

  it("a runner stopped with SIGTERM finishes the process it runs, then leaves; the run succeeds", async () => {
    const survivors = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)
    assert.isAtLeast(survivors.length, 2)
    const logged = survivors.map((w) => w.log.length)
    const driver = spawnCli(["run", project, "--cluster", pg.url, "--json", "--seed", "13"])
    const { node, worker } = await new Promise<{ worker: Worker; node: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no runner started a branch")), 30_000)
      const poll = setInterval(() => {
        survivors.forEach((w, i) => {
          const started = /: (train_model_seed\d) started/.exec(w.log.slice(logged[i]))
          if (started) {
            clearInterval(poll)
            clearTimeout(timer)
            resolve({ worker: w, node: started[1]! })
          }
        })
      }, 20)
    })
    const signalled = Date.now()
    worker.child.kill("SIGTERM")
    const exited = await new Promise<number>((resolve) => worker.child.once("exit", () => resolve(Date.now() - signalled)))
    // It finished what it ran (the drain), then left, within the bound.
    assert.match(worker.log.slice(logged[survivors.indexOf(worker)]), new RegExp(`${node} executed in`))
    assert.isBelow(exited, 15_000)
    const result = await driver
    // On failure, what every runner said since the run began: which one took which branch, and when.
    const runnerLogs = () => survivors.map((w, i) => `--- worker ${i}\n${w.log.slice(logged[i])}`).join("\n")
    assert.strictEqual(result.status, 0, `${result.stderr}\n${runnerLogs()}`)
    assert.strictEqual(report(result.stdout).run.status, "success", runnerLogs())
  }, 60_000)

  it("refuses a project whose code differs from the runners', with both fingerprints", async () => {
    const other = copyProject(project)
    // The evaluation counts differently: the code of evaluate (which calls this step) changes.
    editFile(Path.join(other, "src/evaluate.ts"), "matrix[a]![predicted[i]!]!++", "matrix[a]![predicted[i]!]! += 1")
    const result = await Effect.runPromise(cli(["run", other, "--cluster", pg.url]))
    assert.strictEqual(result.status, 2, result.stderr)
    assert.match(result.stderr, /cluster runner \S+ runs a different project: code fingerprint [0-9a-f]{12} \(this project: [0-9a-f]{12}\)/)
  }, 30_000)

  it("refuses a cache the runners do not share, saying why", async () => {
    // The same project in another folder: same fingerprints, its own cache.
    const other = Path.join(tempDir(), "copy")
    cpSync(project, other, { recursive: true, filter: (src) => Path.basename(src) !== ".expops" })
    const result = await Effect.runPromise(cli(["run", other, "--cluster", pg.url]))
    assert.strictEqual(result.status, 2, result.stderr)
    assert.match(result.stderr, /one cache shared by the driver and every runner.*their local cache folders are not the same folder/s)
  }, 30_000)

  it("PostgreSQL unreachable: exit 2 before any work, naming host, port, user and the reason", async () => {
    const port = await Postgres.freePort()
    const url = `postgres://alice@127.0.0.1:${port}/expops`
    for (const args of [["run", project, "--cluster", url], ["worker", project, "--cluster", url]]) {
      const result = await Effect.runPromise(cli(args))
      assert.strictEqual(result.status, 2, result.stderr)
      assert.match(result.stderr, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database expops, user alice\\): .*ECONNREFUSED`))
    }
    const wrongDb = await Effect.runPromise(cli(["run", project, "--cluster", pg.url.replace(/expops$/, "nosuchdb")]))
    assert.strictEqual(wrongDb.status, 2, wrongDb.stderr)
    assert.match(wrongDb.stderr, /database nosuchdb, user postgres\): .*nosuchdb/)
  }, 30_000)

  it("a worker whose project does not load exits 2 with the reason, at the user's file and line", async () => {
    const broken = copyProject(project)
    editFile(Path.join(broken, "src/evaluate.ts"), /$/, "\nthrow new Error(\"broken at load\")\n")
    const result = await Effect.runPromise(cli(["worker", broken, "--cluster", pg.url, "--concurrency", "1"]))
    assert.strictEqual(result.status, 2, result.stderr)
    assert.match(result.stderr, /src\/evaluate\.ts:\d+(:\d+)?: .*broken at load/, result.stderr)
  }, 30_000)

  it("no runner registered within the wait: says so, and how to start one", async () => {
    const empty = pg.createDatabase("expops_empty")
    const other = copyProject(project)
    writeFileSync(Path.join(other, "configs/project_config.yaml"), `${
      (await import("node:fs")).readFileSync(Path.join(other, "configs/project_config.yaml"), "utf8")
    }\ncluster:\n  url: ${empty}\n  runner_wait_seconds: 1\n`)
    const result = await Effect.runPromise(cli(["run", other]))
    assert.strictEqual(result.status, 2, result.stderr)
    assert.match(result.stderr, /no cluster runner registered at postgres:\/\/\S+ within 1 s: start one with `expops worker \S+ --cluster \S+`/)
  }, 30_000)
})
