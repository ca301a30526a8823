/**
 * The web UI's server: Effect's HTTP server on Node, on 127.0.0.1 only,
 * serving the built front end and the read-only API over the project's run
 * store and cache (see docs/ui.md):
 *
 * - `GET /api/runs`: the runs, newest first, as `expops runs ls --json`;
 * - `GET /api/runs/ID`: that run's report, as `expops run --json`;
 * - `GET /api/runs/ID/live`: its graph, its events so far and its report;
 * - `GET /api/runs/ID/explain?target=PROCESS[/STEP]`: `expops explain`'s words;
 * - `GET /api/live`: the runs in progress;
 * - `GET /api/cache`, `GET /api/cache/KEY`: the entries, one explained;
 * - `GET /api/events`: server-sent events, one per change of the run store.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import type { CacheAdmin, RunStore } from "@expops/core"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as HttpServer from "effect/http/HttpServer"
import { RunStore as RunStoreService } from "@expops/core"
import * as Api from "./internal/api.ts"
import * as Assets from "./internal/assets.ts"
import * as Changes from "./internal/changes.ts"
import type * as Explainer from "./Explainer.ts"
import { UiError } from "./UiError.ts"

/**
 * The only address the server listens on.
 *
 * @since 0.1.0
 */
export const HOST = "127.0.0.1"

/**
 * @since 0.1.0
 */
export interface Options {
  /** The port; 0 picks a free one. */
  readonly port: number
}

/**
 * @since 0.1.0
 */
export interface Served {
  readonly url: string
  readonly port: number
}

/**
 * Starts the server; it serves until the scope closes (open event streams
 * are cut then). Answers its URL.
 *
 * @since 0.1.0
 */
export const serve = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<Served, UiError, Scope.Scope | RunStore.RunStore | CacheAdmin.CacheAdmin | Explainer.Explainer> {
  const assets = yield* Assets.load
  const store = yield* RunStoreService.RunStore
  const context = yield* Layer.build(
    NodeHttpServer.layerServer(createServer, { host: HOST, port: options.port, gracefulShutdownTimeout: "1 second" })
  ).pipe(
    Effect.mapError((error) => new UiError({ reason: `cannot listen on ${HOST}:${options.port}: ${error.message}`, cause: error }))
  )
  const server = Context.get(context, HttpServer.HttpServer)
  const address = server.address
  if (address._tag === "UnixPathAddress") return yield* new UiError({ reason: "the server did not listen on a TCP port" })
  const { port } = address
  const changes = yield* Changes.follow(store).pipe(
    Effect.mapError((error) => new UiError({ reason: `cannot read the run store: ${error.message}`, cause: error }))
  )
  yield* server.serve(Api.make({ port, assets, events: changes.events }))
  return { url: `http://${HOST}:${port}/`, port }
})
