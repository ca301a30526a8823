/**
 * The routes of the web UI. Every route reads the project's run store and
 * cache only, through their ports; a request names runs and entries by id
 * or key, never a path. Unknown ids answer 404 and failures 500, as JSON
 * with a message and never a stack trace.
 */
import * as os from "node:os"
import { CacheAdmin, type RunReport, RunStore } from "@expops/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Explainer, type Failure } from "../Explainer.ts"
import type * as Assets from "./assets.ts"
import * as Security from "./security.ts"

const json = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status, headers: Security.headers })
const problem = (status: number, error: string) => json({ error, status }, status)

/** A run still going, as far as this machine can tell: recorded by a live OS process here, or elsewhere (unknown). */
const isAlive = (run: RunStore.LiveRun): boolean => {
  if (run.pid === undefined || run.host !== os.hostname()) return true
  try {
    process.kill(run.pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const KEY = /^[0-9a-f]{64}$/

const ABANDONED_LISTED_MS = 24 * 3600_000

export interface Options {
  readonly port: number
  readonly assets: ReadonlyMap<string, Assets.Asset>
  readonly events: Stream.Stream<Uint8Array>
}

/** The app: the security check, then the route. Never fails: every failure is an answer. */
export const make: (
  options: Options
) => Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | RunStore.RunStore | CacheAdmin.CacheAdmin | Explainer
> = Effect.fnUntraced(
  function*(options: Options) {
    const request = yield* HttpServerRequest.HttpServerRequest
    const refused = Security.refusal(request.headers, options.port)
    if (refused !== undefined) return problem(403, refused)
    if (request.method !== "GET" && request.method !== "HEAD") return problem(405, `${request.method} is not allowed: the web UI only reads`)
    const url = new URL(request.url, `http://127.0.0.1:${options.port}`)
    const asset = options.assets.get(url.pathname === "/index.html" ? "/" : url.pathname)
    if (asset !== undefined) return HttpServerResponse.uint8Array(asset.body, { contentType: asset.type, headers: Security.headers })
    const parts = url.pathname.split("/").slice(1).map((part) => {
      try {
        return decodeURIComponent(part)
      } catch {
        return "\u0000"
      }
    })
    if (parts[0] !== "api") return problem(404, `no page ${url.pathname}`)
    return yield* route(parts.slice(1), url.searchParams, options)
  },
  // Failures are the store's or the cache's (a message a user can act on); defects are bugs, logged, not shown.
  Effect.catchCause((cause) => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
    const error = Cause.squash(cause)
    if (Cause.hasFails(cause)) return Effect.succeed(problem(500, error instanceof Error ? error.message : String(error)))
    return Effect.as(Effect.logError("web UI: unexpected failure (a bug)", cause), problem(500, "internal error (a bug; see the server's output)"))
  })
)

/** An explanation that failed: the request's fault (404), or the store's (500, its cause logged for whoever runs the server). */
const explainFailed = (failure: Failure) =>
  failure.missing
    ? Effect.succeed(problem(404, failure.message))
    : Effect.as(
      failure.cause === undefined
        ? Effect.logWarning(`web UI: could not explain: ${failure.message}`)
        : Effect.logWarning(`web UI: could not explain: ${failure.message}`, failure.cause),
      problem(500, failure.message)
    )

const route = Effect.fnUntraced(function*(path: ReadonlyArray<string>, query: URLSearchParams, options: Options) {
  const store = yield* RunStore.RunStore
  const [resource, id, sub, ...rest] = path
  if (rest.length > 0) return problem(404, "no such route")
  const run = (id: string) =>
    Effect.map(id.length > 200 ? Effect.succeed(Option.none<RunReport.RunReport>()) : store.getRun(id), Option.getOrUndefined)
  switch (resource) {
    case "events":
      if (id !== undefined) break
      return HttpServerResponse.stream(options.events, {
        contentType: "text/event-stream",
        headers: { ...Security.headers, "x-accel-buffering": "no" }
      })
    case "live": {
      if (id !== undefined) break
      const now = yield* Clock.currentTimeMillis
      const runs = store.live === undefined ? [] : (yield* store.live.inProgress).map((r) => ({ ...r, alive: isAlive(r) }))
      // A run whose process died (killed twice over) never ends: listed a day, then only reachable by id.
      return json(runs.filter((r) => r.alive || now - r.startedAt < ABANDONED_LISTED_MS))
    }
    case "runs": {
      if (id === undefined) {
        const limit = Number(query.get("limit") ?? 500)
        return json(yield* store.listRuns({ limit: Number.isInteger(limit) && limit > 0 ? limit : 500 }))
      }
      if (sub === undefined) {
        const report = yield* run(id)
        return report === undefined ? problem(404, `no run ${id}`) : json(report)
      }
      if (sub === "live") {
        // A run as a page draws it: its graph as it began, its events so far, and its report once it is saved.
        const started = store.live === undefined || id.length > 200 ? Option.none() : yield* store.live.started(id)
        const report = yield* run(id)
        if (Option.isNone(started) && report === undefined) return problem(404, `no run ${id}`)
        const begun = Option.getOrUndefined(started)
        return json({
          graph: begun?.run ?? null,
          alive: begun !== undefined && report === undefined ? isAlive(begun.run) : false,
          events: begun?.events ?? [],
          seq: begun?.seq ?? 0,
          report: report ?? null
        })
      }
      if (sub === "explain") {
        const report = yield* run(id)
        if (report === undefined) return problem(404, `no run ${id}`)
        const target = query.get("target")
        if (target === null || target === "") return problem(400, "explain needs ?target=PROCESS or PROCESS/STEP")
        const explainer = yield* Explainer
        return yield* explainer.run(report, target).pipe(
          Effect.map((explained) => json(explained)),
          Effect.catch(explainFailed)
        )
      }
      break
    }
    case "cache": {
      if (sub !== undefined) break
      const admin = yield* CacheAdmin.CacheAdmin
      if (id === undefined) return json(yield* admin.list())
      if (!KEY.test(id)) return problem(404, `no cache entry ${id} (a key is 64 hex digits)`)
      const explainer = yield* Explainer
      // Its failure answered here, as `run`'s is: kept as it came, not remade into an Error for the catch-all.
      return yield* explainer.entry(id).pipe(
        Effect.map((explained) => Option.isNone(explained) ? problem(404, `no cache entry ${id}`) : json(explained.value)),
        Effect.catch(explainFailed)
      )
    }
  }
  return problem(404, `no such route /api/${path.join("/")}`)
})
