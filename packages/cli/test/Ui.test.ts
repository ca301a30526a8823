import { spawnSync } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { DatabaseSync } from "node:sqlite"
import * as os from "node:os"
import { assert, describe, it } from "@effect/vitest"
import { SqliteRunStore } from "@expops/backend-local"
import { RunStore } from "@expops/core"
import { Effect } from "effect"
import { cli, copyProject, editConfig, json, manifestFile, run } from "./helpers.ts"
import { readEvents, request, serveUi } from "./uiHelpers.ts"

describe("expops ui: the HTTP API", () => {
  it.live("answers /api/runs and /api/runs/ID as runs ls --json and the run report; unknown ids and routes 404 as JSON", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const first = yield* run(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      const second = yield* run(dir)
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      assert.match(served.output.stdout.join(""), /loopback only/)
      const get = (path: string, headers?: Record<string, string>) => Effect.promise(() => request(served.port, path, { ...(headers ? { headers } : {}) }))

      const page = yield* get("/")
      assert.strictEqual(page.status, 200)
      assert.match(page.body, /<html/i)
      assert.match(String(page.headers["content-security-policy"]), /default-src 'self'/)
      for (const asset of ["/app.js", "/app.css"]) assert.strictEqual((yield* get(asset)).status, 200, asset)

      const runs = yield* get("/api/runs")
      assert.strictEqual(runs.status, 200)
      assert.strictEqual(runs.headers["x-content-type-options"], "nosniff")
      assert.strictEqual(runs.headers["x-frame-options"], "DENY")
      assert.match(String(runs.headers["content-type"]), /application\/json/)
      assert.deepStrictEqual(runs.json, yield* json(["runs", "ls", dir]))
      assert.deepStrictEqual(runs.json.map((r: any) => r.id), [second.report.run.id, first.report.run.id])

      const report = yield* get(`/api/runs/${first.report.run.id}`)
      assert.strictEqual(report.status, 200)
      assert.deepStrictEqual(report.json, first.report)
      assert.strictEqual(report.json.processes.length, 4)

      // The live view of a recorded run: its graph (the DAG's edges) and its report.
      const view = (yield* get(`/api/runs/${second.report.run.id}/live`)).json
      assert.deepStrictEqual(view.report, second.report)
      assert.deepStrictEqual(
        view.graph.processes.map((p: any) => [p.name, p.upstream]),
        [["load_data", []], ["prepare", ["load_data"]], ["train_model", ["prepare"]], ["evaluate", ["prepare", "train_model"]]]
      )
      assert.deepStrictEqual(view.events, [], "a recorded run's progress is in its report")

      // Explanations are the words of `expops explain`.
      const explained = yield* get(`/api/runs/${second.report.run.id}/explain?target=train_model`)
      assert.strictEqual(explained.status, 200)
      const text = yield* cli(["explain", dir, "train_model", "--run", second.report.run.id])
      assert.strictEqual(explained.json[0].text, text.stdout.trimEnd())
      assert.include(explained.json[0].text, "parameter `learning_rate` 0.05 -> 0.1")

      for (const path of [
        "/api/runs/20990101T000000Z-000000",
        "/api/runs/nope/live",
        "/api/runs/..%2F..%2Fetc%2Fpasswd",
        `/api/runs/${"x".repeat(5000)}`,
        "/api/cache/not-a-key",
        `/api/cache/${"0".repeat(64)}`,
        "/api/nothing",
        "/etc/passwd",
        `/api/runs/${first.report.run.id}/explain?target=no_such_process`
      ]) {
        const answer = yield* get(path)
        assert.strictEqual(answer.status, 404, path)
        assert.match(String(answer.headers["content-type"]), /application\/json/, path)
        assert.isString(answer.json.error, path)
        assert.notMatch(answer.body, /\n\s+at /, `${path}: no stack trace`)
      }
      const post = yield* Effect.promise(() => request(served.port, "/api/runs", { method: "POST" }))
      assert.strictEqual(post.status, 405)
      assert.isString(post.json.error)
    }))

  it.live("refuses a foreign Host (DNS rebinding) and a foreign Origin with 403 JSON; answers its own names", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      const get = (path: string, headers: Record<string, string>) => Effect.promise(() => request(served.port, path, { headers }))
      for (const host of ["evil.example", `evil.example:${served.port}`, `127.0.0.1:${served.port + 1}`, "127.0.0.1", `[::1]:${served.port}x`]) {
        for (const path of ["/api/runs", "/", "/api/events"]) {
          const answer = yield* get(path, { host })
          assert.strictEqual(answer.status, 403, `${host} ${path}`)
          assert.match(answer.json.error, /answers only requests for http:\/\/127\.0\.0\.1:\d+/)
        }
      }
      for (const origin of ["http://evil.example", `http://evil.example:${served.port}`, "null", `https://127.0.0.1:${served.port}`]) {
        const answer = yield* get("/api/events", { host: `127.0.0.1:${served.port}`, origin })
        assert.strictEqual(answer.status, 403, origin)
        assert.match(answer.json.error, /another origin/)
      }
      assert.strictEqual((yield* get("/api/runs", { host: `localhost:${served.port}` })).status, 200)
      assert.strictEqual((yield* get("/api/runs", { host: `127.0.0.1:${served.port}`, origin: `http://127.0.0.1:${served.port}` })).status, 200)
    }))

  it.live("streams a run started meanwhile over /api/events: started, progress per process and step, finished", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      let started: Promise<unknown> | undefined
      const messages = yield* Effect.promise(() =>
        readEvents(
          served.port,
          // Subscribed: start a run (in this process; the store is shared through the SQLite file as between processes).
          () => void (started ??= Effect.runPromise(run(dir))),
          (all) => all.some((m) => m._tag === "Finished"),
          // A few polls of the store more: a change is sent once, never again.
          { settleMs: 800 }
        )
      )
      const report = ((yield* Effect.promise(() => started!)) as { report: any }).report
      const id = report.run.id
      assert.strictEqual(messages[0]._tag, "Started")
      assert.strictEqual(messages[0].run.id, id)
      assert.deepStrictEqual(messages[0].run.processes.map((p: any) => p.name), ["load_data", "prepare", "train_model", "evaluate"])
      const progress = messages.filter((m) => m._tag === "Progress")
      assert.isTrue(progress.every((m) => m.runId === id))
      const stored = progress.filter((m) => m.event.kind === "process" && m.event.phase === "store").map((m) => m.event.process)
      assert.sameMembers(stored, ["load_data", "prepare", "train_model", "evaluate"])
      assert.isTrue(progress.some((m) => m.event.kind === "step" && m.event.process === "train_model" && m.event.step === "fit"))
      const finished = messages.find((m) => m._tag === "Finished")
      assert.deepStrictEqual(finished.run, (yield* json(["runs", "ls", dir]))[0])
      const seqs = messages.map((m) => m.seq)
      assert.deepStrictEqual(seqs, [...seqs].sort((a, b) => a - b), "in order")
      assert.strictEqual(new Set(seqs).size, seqs.length, "each change once")
      assert.strictEqual(messages.at(-1), finished, "nothing after the end")
    }))

  it.live("the cache page's API lists entries and explains one without counting it as used", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      const entries = (yield* Effect.promise(() => request(served.port, "/api/cache"))).json
      assert.deepStrictEqual(
        entries.map((e: any) => e.key).sort(),
        (yield* json(["cache", "ls", dir])).map((e: any) => e.key).sort()
      )
      const train = entries.find((e: any) => e.kind === "process" && e.name === "train_model")
      const explained = yield* Effect.promise(() => request(served.port, `/api/cache/${train.key}`))
      assert.strictEqual(explained.status, 200)
      assert.include(explained.json.text, "process train_model")
      assert.include(explained.json.text, "recipe:")
      const after = (yield* Effect.promise(() => request(served.port, "/api/cache"))).json.find((e: any) => e.key === train.key)
      assert.strictEqual(after.lastAccessAt, train.lastAccessAt, "explaining is not using: LRU pruning is not defeated")
    }))

  it.live("lists the runs in progress: alive while their process lives, abandoned ones for a day", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const gone = spawnSync(process.execPath, ["-e", ""]).pid!
      const now = Date.now()
      const begin = (id: string, pid: number, startedAt: number) =>
        RunStore.RunStore.use((runs) =>
          runs.live!.begin({ id, pipeline: "quickstart", startedAt, seed: 42, backend: "local", processes: [], pid, host: os.hostname() })
        ).pipe(Effect.provide(SqliteRunStore.layerProject(dir)))
      yield* begin("going", process.pid, now - 1000)
      yield* begin("killed", gone, now - 2000)
      yield* begin("killed-long-ago", gone, now - 3 * 24 * 3600_000)
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      const live = (yield* Effect.promise(() => request(served.port, "/api/live"))).json
      assert.deepStrictEqual(live.map((r: any) => [r.id, r.alive]), [["going", true], ["killed", false]])
      const view = (yield* Effect.promise(() => request(served.port, "/api/runs/killed-long-ago/live"))).json
      assert.strictEqual(view.alive, false)
      assert.strictEqual(view.report, null)
    }))

  it.live("a run store that fails answers 500 with its message as JSON, never a stack trace", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const { report } = yield* run(dir)
      const db = new DatabaseSync(`${dir}/.expops/expops.sqlite`)
      db.prepare("UPDATE runs SET report = ? WHERE id = ?").run("{\"not\": \"a report\"}", report.run.id)
      db.close()
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      const answer = yield* Effect.promise(() => request(served.port, `/api/runs/${report.run.id}`))
      assert.strictEqual(answer.status, 500)
      assert.match(answer.json.error, new RegExp(`could not read run ${report.run.id} .*does not match the run report schema`))
      assert.notMatch(answer.body, /\n\s+at /)
    }))

  it.live("a cache entry that cannot be read answers 500 with the cache's message as JSON, never a stack trace", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const { report } = yield* run(dir)
      const train = report.processes.find((p) => p.name === "train_model")!
      // A folder where the manifest was: reading it fails (EISDIR), a failure of the store, not a missing entry.
      const file = manifestFile(dir, train.key)
      rmSync(file)
      mkdirSync(file)
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      const answer = yield* Effect.promise(() => request(served.port, `/api/cache/${train.key}`))
      assert.strictEqual(answer.status, 500, answer.body)
      assert.deepStrictEqual(Object.keys(answer.json).sort(), ["error", "status"])
      assert.strictEqual(answer.json.status, 500)
      assert.match(answer.json.error, /^local cache: could not read manifest at \S+: a folder is in the way \(EISDIR\)$/)
      assert.notMatch(answer.body, /\n\s+at /)
      // The page gets the message; the server's output gets the cause, down to the system call.
      const logged = served.output.stderr.join("")
      assert.match(logged, /WARN .*web UI: could not explain: local cache: could not read manifest/)
      assert.match(logged, /code: 'EISDIR',\s+syscall: 'read'/)
    }))

  it.live("a port already in use is a usage error (exit 2) naming it", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const served = yield* Effect.promise(() => serveUi(dir))
      yield* Effect.addFinalizer(() => Effect.promise(served.stop))
      const again = yield* cli(["ui", dir, "--port", String(served.port)])
      assert.strictEqual(again.status, 2)
      assert.match(again.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${served.port}`))
      const bad = yield* cli(["ui", dir, "--port", "70000"])
      assert.strictEqual(bad.status, 2)
      assert.match(bad.stderr, /--port must be a port number/)
    }))
})
