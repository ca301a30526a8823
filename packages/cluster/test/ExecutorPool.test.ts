import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { ExecutorPool } from "@expops/cluster"
import { Duration, Effect, Exit, Fiber } from "effect"

const child = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url))
const pool = (size: number, mode = "serve") => ExecutorPool.make({ module: child, args: [mode], size, execArgv: [] })
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Waits (real time: the process is another's to end) until `pid` is gone, polling every 10 ms;
 * fails after 10 s, when the process was left running. Quicker than a fixed pause, and not
 * fooled by a busy machine.
 */
const exited = (pid: number) =>
  Effect.gen(function*() {
    while (alive(pid)) yield* Effect.sleep(Duration.millis(10))
  }).pipe(
    Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.sync(() => assert.fail(`process ${pid} still running 10 s later`)) })
  )

describe("ExecutorPool", () => {
  it.live("runs jobs in its child processes, at most one per child at a time", () =>
    Effect.gen(function*() {
      const p = yield* pool(2)
      assert.notStrictEqual((p.info as { pid: number }).pid, process.pid)
      const started = Date.now()
      const replies = yield* Effect.all(Array.from({ length: 4 }, () => p.run({ kind: "echo", ms: 300 })), { concurrency: "unbounded" })
      const pids = new Set(replies.map((r) => (r as { pid: number }).pid))
      assert.strictEqual(pids.size, 2)
      // Four jobs of 300 ms on two children: two rounds.
      assert.isAtLeast(Date.now() - started, 550)
    }).pipe(Effect.scoped))

  it.live("a child that dies mid-job fails that job with the reason, and another child takes its place", () =>
    Effect.gen(function*() {
      const p = yield* pool(1)
      const error = yield* Effect.flip(p.run({ kind: "crash" }))
      assert.match(error.message, /its executor process exited with code 3 while running it/)
      const reply = yield* p.run({ kind: "echo" })
      assert.notStrictEqual((reply as { pid: number }).pid, (p.info as { pid: number }).pid)
    }).pipe(Effect.scoped))

  it.live("an interrupted job kills its child, so its work stops with it", () =>
    Effect.gen(function*() {
      const p = yield* pool(1)
      const pid = (p.info as { pid: number }).pid
      const fiber = yield* Effect.forkChild(p.run({ kind: "hang" }))
      yield* Effect.sleep(Duration.millis(100))
      yield* Fiber.interrupt(fiber)
      yield* exited(pid)
      // The next job gets a new child.
      const reply = yield* p.run({ kind: "echo" })
      assert.notStrictEqual((reply as { pid: number }).pid, pid)
    }).pipe(Effect.scoped))

  it.live("a child that cannot start fails the pool with its reason; the children stop with the scope", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.exit(Effect.scoped(pool(1, "fail")))
      assert.isTrue(Exit.isFailure(failed))
      const error = yield* Effect.flip(Effect.scoped(pool(1, "fail")))
      assert.strictEqual(error.reason, "the project does not load")
      assert.strictEqual(error.usage, true)
      const pid = yield* Effect.scoped(Effect.map(pool(1), (p) => (p.info as { pid: number }).pid))
      yield* exited(pid)
    }))

  it.live("a child that cannot be spawned fails the pool, the spawn's error kept whole as the cause", () =>
    Effect.gen(function*() {
      // A working folder that does not exist: the spawn itself fails (ENOENT), before any child runs.
      const cwd = mkdtempSync(Path.join(tmpdir(), "expops-pool-"))
      rmSync(cwd, { recursive: true })
      const error = yield* Effect.flip(Effect.scoped(ExecutorPool.make({ module: child, args: ["serve"], size: 1, execArgv: [], cwd })))
      assert.strictEqual(error._tag, "ExecutorError")
      assert.match(error.reason, /^cannot start an executor process: spawn .* ENOENT$/)
      const cause = error.cause as NodeJS.ErrnoException
      assert.instanceOf(cause, Error)
      assert.strictEqual(cause.code, "ENOENT")
      assert.strictEqual(cause.syscall?.startsWith("spawn"), true)
      assert.isString(cause.stack)
    }))
})
