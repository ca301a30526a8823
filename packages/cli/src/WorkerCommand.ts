/**
 * `expops worker DIR --cluster URL`: a cluster runner for a project. It
 * forks `--concurrency` executor processes that load the project as
 * `expops run` would, joins the cluster (PostgreSQL at URL; a socket on
 * `--listen HOST:PORT`, by default a free loopback port) and runs the
 * processes drivers send it until it is stopped. On SIGTERM (or Ctrl-C) it
 * takes no new work and gives running processes a bounded time to finish.
 *
 * @since 0.1.0
 */
import { createServer } from "node:net"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import type { ProcessEntity, ProjectIdentity } from "@expops/cluster"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import * as Flags from "./internal/flags.ts"
import * as Project from "./Project.ts"

/** A free TCP port on a host: bound, read, released. */
const freePort = (host: string) =>
  Effect.callback<number, UsageError>((resume) => {
    const server = createServer()
    server.once("error", (error) => resume(Effect.fail(new UsageError({ message: `cannot listen on ${host}: ${error.message}` }))))
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

const parseListen = (text: string) => {
  const match = /^(.+):(\d{1,5})$/.exec(text)
  if (match === null || Number(match[2]) > 65535) {
    return Effect.fail(new UsageError({ message: `--listen ${text}: expected HOST:PORT, an address the other runners and drivers reach (e.g. 10.0.0.5:34431)` }))
  }
  return Effect.succeed({ host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) })
}

/** The executor module beside this one: its sources under the source condition, else the build. */
const executorModule = new URL(`./internal/clusterExecutor${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

/**
 * Only the export conditions are passed on to the executors (not --inspect and
 * the like), as `--conditions=X` or as `--conditions X` / `-C X`.
 */
const executorExecArgv = process.execArgv.flatMap((arg, i, all) =>
  arg.startsWith("--conditions=") || (arg.startsWith("-C") && arg.length > 2)
    ? [arg]
    : (arg === "--conditions" || arg === "-C") && all[i + 1] !== undefined
    ? [arg, all[i + 1]!]
    : []
)

const handler = Effect.fn("expops.worker")(function*(input: {
  readonly dir: string
  readonly cluster: Option.Option<string>
  readonly listen: Option.Option<string>
  readonly concurrency: Option.Option<number>
  readonly backend: Option.Option<Backends.Name>
}) {
  const project = yield* Project.load(input.dir)
  // Loaded when a worker starts, not for `expops --help`: Effect Cluster and the PostgreSQL client are large.
  const { ClusterSettings, ClusterStorage, ExecutorPool, Runner } = yield* Effect.promise(() => import("@expops/cluster"))
  const url = Option.getOrUndefined(input.cluster) ?? project.config.cluster?.url
  if (url === undefined) {
    return yield* new UsageError({ message: "expops worker needs --cluster URL (or cluster.url in the config): the PostgreSQL of the cluster" })
  }
  const concurrency = Option.getOrElse(input.concurrency, () => availableParallelism())
  if (concurrency < 1) return yield* new UsageError({ message: `--concurrency must be at least 1, got ${concurrency}` })
  const target = yield* ClusterStorage.parse(url)
  const listen = Option.isSome(input.listen) ? yield* parseListen(input.listen.value) : { host: "127.0.0.1", port: 0 }
  const port = listen.port === 0 ? yield* freePort(listen.host) : listen.port
  // PostgreSQL first: a wrong URL fails before the executors load the project.
  yield* Effect.scoped(Layer.build(ClusterStorage.layer(target)))
  const backend = Option.getOrElse(input.backend, () => project.config.backend)
  const pool = yield* ExecutorPool.make({
    module: fileURLToPath(executorModule),
    args: [project.dir, backend],
    size: concurrency,
    execArgv: executorExecArgv
  })
  const info = pool.info as { readonly project: ProcessEntity.Fingerprints; readonly cache: ProjectIdentity.CacheIdentity }
  const address = `${listen.host}:${port}`
  yield* Layer.build(Runner.layer({ target, host: listen.host, port, pool, project: info.project, cache: info.cache }))
  // Added last, so it runs first when the runner stops: however the shutdown goes (PostgreSQL gone, say),
  // the process ends a little after the drain.
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => setTimeout(() => process.exit(130), (ClusterSettings.drainSeconds + 5) * 1000).unref())
  )
  yield* Console.error(
    `runner ${address} joined ${ClusterStorage.display(url)}: project ${project.config.name} ` +
      `(code ${info.project.code.slice(0, 12)}, config ${info.project.config.slice(0, 12)}), ` +
      `cache ${info.cache.display}, ${concurrency} executor${concurrency === 1 ? "" : "s"}. ` +
      `Stop it with Ctrl-C or SIGTERM (running processes get ${ClusterSettings.drainSeconds} s to finish).`
  )
  // Serves until stopped, or until PostgreSQL has been gone too long.
  return yield* ClusterStorage.watch(target, ClusterSettings.storageLostSeconds).pipe(
    Effect.provide(ClusterStorage.layer(target))
  )
}, Effect.scoped)

/**
 * @since 0.1.0
 */
export const command = Command.make("worker", {
  dir: Flags.dir,
  cluster: Flag.String("cluster").pipe(
    Flag.optional,
    Flag.withDescription("PostgreSQL URL of the cluster's storage, postgres://USER@HOST:PORT/DATABASE (default: cluster.url in the config)")
  ),
  listen: Flag.String("listen").pipe(
    Flag.optional,
    Flag.withDescription("HOST:PORT other runners and drivers reach this runner on (default: a free port on 127.0.0.1)")
  ),
  concurrency: Flag.Int("concurrency").pipe(
    Flag.optional,
    Flag.withDescription("Run at most this many processes at once, each in its own executor process (default: the number of cores)")
  ),
  backend: Flags.backend
}, handler).pipe(
  Command.withDescription(
    "Run a cluster runner for a project: it executes the processes that `expops run DIR --cluster URL` sends to the cluster. " +
      "Exit code: 2 bad usage, bad config, or a cluster that cannot be reached."
  ),
  Command.withExamples([
    { command: "expops worker . --cluster postgres://expops@db:5432/expops", description: "Join the cluster with one executor per core" },
    { command: "expops worker . --cluster postgres://expops@db/expops --listen 10.0.0.5:34431", description: "A runner other machines reach" }
  ])
)
