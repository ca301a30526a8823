/**
 * The processes a runner computes in: a fixed number of Node child
 * processes, each running one job at a time. The runner's own event loop
 * only talks to PostgreSQL and its peers, so its shard locks stay fresh
 * however long a job computes (a blocked loop let locks lapse, shards flap
 * and work run many times over).
 *
 * A child says `ready` (with what it loaded) or `failed` once, then answers
 * each `job` with a `reply` of the same id. A job whose child dies fails, and
 * a new child takes its place; an interrupted job kills its child, so that
 * its work stops with it.
 *
 * @since 0.1.0
 */
import { type ChildProcess, fork } from "node:child_process"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type * as Scope from "effect/Scope"
import { ExecutorError } from "./ClusterError.ts"

/**
 * What a child sends its parent.
 *
 * @since 0.1.0
 */
export type ChildMessage =
  | { readonly type: "ready"; readonly info: unknown }
  | { readonly type: "failed"; readonly reason: string; readonly usage: boolean }
  | { readonly type: "reply"; readonly id: number; readonly reply: unknown }

/**
 * What a parent sends a child.
 *
 * @since 0.1.0
 */
export interface JobMessage {
  readonly type: "job"
  readonly id: number
  readonly job: unknown
}

/**
 * @since 0.1.0
 */
export interface Pool {
  /** What the first child reported when it was ready. */
  readonly info: unknown
  readonly size: number
  /** Runs a job in a free child, waiting for one. */
  readonly run: (job: unknown) => Effect.Effect<unknown, ExecutorError>
}

/**
 * @since 0.1.0
 */
export interface Options {
  /** The module a child runs. */
  readonly module: string
  readonly args: ReadonlyArray<string>
  readonly size: number
  readonly execArgv?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
}

interface Child {
  readonly process: ChildProcess
  dead: boolean
  pending: ((reply: Effect.Effect<unknown, ExecutorError>) => void) | undefined
}

const describeExit = (code: number | null, signal: NodeJS.Signals | null) =>
  signal !== null ? `was killed by ${signal}` : `exited with code ${code}`

/**
 * Starts the children, all ready before this succeeds; stops them when the scope closes.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options): Effect.fn.Return<Pool, ExecutorError, Scope.Scope> {
  const all = new Set<Child>()
  let nextId = 0
  const spawn = Effect.callback<{ readonly child: Child; readonly info: unknown }, ExecutorError>((resume) => {
    const process = fork(options.module, [...options.args], {
      execArgv: [...(options.execArgv ?? globalThis.process.execArgv)],
      cwd: options.cwd,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced"
    })
    const child: Child = { process, dead: false, pending: undefined }
    all.add(child)
    let ready = false
    process.on("message", (message: ChildMessage) => {
      if (message.type === "ready" && !ready) {
        ready = true
        resume(Effect.succeed({ child, info: message.info }))
      } else if (message.type === "failed" && !ready) {
        ready = true
        resume(Effect.fail(new ExecutorError({ reason: message.reason, usage: message.usage })))
      } else if (message.type === "reply" && child.pending !== undefined) {
        const pending = child.pending
        child.pending = undefined
        pending(Effect.succeed(message.reply))
      }
    })
    process.on("error", (error) => {
      if (!ready) {
        ready = true
        resume(Effect.fail(new ExecutorError({ reason: `cannot start an executor process: ${error.message}`, cause: error })))
      }
    })
    process.on("exit", (code, signal) => {
      child.dead = true
      all.delete(child)
      if (!ready) {
        ready = true
        resume(Effect.fail(new ExecutorError({ reason: `an executor process ${describeExit(code, signal)} before it was ready` })))
      }
      if (child.pending !== undefined) {
        const pending = child.pending
        child.pending = undefined
        pending(Effect.fail(new ExecutorError({ reason: `its executor process ${describeExit(code, signal)} while running it` })))
      }
    })
    return Effect.sync(() => process.kill("SIGKILL"))
  })
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const child of all) child.process.kill("SIGTERM")
    })
  )
  const started = yield* Effect.all(Array.from({ length: options.size }, () => spawn), { concurrency: "unbounded" })
  const idle: Array<Child> = started.map((s) => s.child)
  const semaphore = yield* Semaphore.make(options.size)

  const runIn = (child: Child, job: unknown) =>
    Effect.callback<unknown, ExecutorError>((resume) => {
      child.pending = resume
      const message: JobMessage = { type: "job", id: nextId++, job }
      child.process.send(message)
      // Interrupted (its shard moved, the runner stops): stop the work with its process.
      return Effect.sync(() => {
        child.pending = undefined
        child.dead = true
        child.process.kill("SIGKILL")
      })
    })

  const run = Effect.fnUntraced(function*(job: unknown) {
    let child = idle.pop()
    while (child !== undefined && child.dead) child = idle.pop()
    if (child === undefined) child = (yield* spawn).child
    const taken = child
    return yield* runIn(taken, job).pipe(Effect.ensuring(Effect.sync(() => {
      if (!taken.dead) idle.push(taken)
    })))
  }, semaphore.withPermits(1))

  return { info: started[0]?.info, size: options.size, run } satisfies Pool
})

/**
 * The child's side: reports `ready` (or `failed`), then answers each job with
 * `handle`. Exits when its parent goes (the IPC channel closes).
 *
 * @since 0.1.0
 */
export const serve = (
  start: () => Promise<{ readonly info: unknown; readonly handle: (job: unknown) => Promise<unknown> }>
): void => {
  const send = (message: ChildMessage) => process.send?.(message)
  process.on("disconnect", () => process.exit(0))
  start().then(
    ({ handle, info }) => {
      process.on("message", (message: JobMessage) => {
        if (message?.type !== "job") return
        handle(message.job).then(
          (reply) => send({ type: "reply", id: message.id, reply }),
          (error) => send({ type: "reply", id: message.id, reply: { _tag: "ExecutorDefect", message: String(error?.stack ?? error) } })
        )
      })
      send({ type: "ready", info })
    },
    (error) => {
      const usage = typeof error === "object" && error !== null && (error as { usage?: boolean }).usage === true
      send({ type: "failed", reason: error instanceof Error ? error.message : String(error), usage })
      setTimeout(() => process.exit(usage ? 2 : 1), 100)
    }
  )
}
