/**
 * `expops runs ls|show DIR [RUN]`: the record of past runs.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { RunStore } from "@expops/core"
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import * as Flags from "./internal/flags.ts"
import * as Output from "./internal/output.ts"
import * as Format from "./Format.ts"
import * as Report from "./internal/report.ts"
import * as Project from "./Project.ts"

/** Runs `f` with the project's run store, on the backend its config (or `--backend`) names. */
const withRuns = Effect.fnUntraced(function*<A, E>(
  dir: string,
  backend: Option.Option<Backends.Name>,
  f: (runs: RunStore.Shape) => Effect.Effect<A, E, Backends.Services>
) {
  const project = yield* Project.load(dir)
  return yield* RunStore.RunStore.use(f).pipe(
    Effect.provide(Backends.layer(project, Option.getOrElse(backend, () => project.config.backend)))
  )
})

/** The report of run `run`, or of the last run. */
const findRun = Effect.fnUntraced(function*(store: RunStore.Shape, dir: string, run: Option.Option<string>) {
  const id = Option.isSome(run) ? run.value : (yield* store.listRuns({ limit: 1 }))[0]?.id
  if (id === undefined) return yield* new UsageError({ message: `no runs recorded yet in ${dir}; run \`expops run ${dir}\`` })
  const found = yield* store.getRun(id)
  if (Option.isNone(found)) return yield* new UsageError({ message: `no run ${id} in ${dir} (see \`expops runs ls ${dir}\`)` })
  return found.value
})

const ls = Command.make("ls", {
  dir: Flags.dir,
  limit: Flag.Int("limit").pipe(Flag.withDefault(20), Flag.withDescription("Show at most this many runs, newest first")),
  json: Flags.json,
  backend: Flags.backend
}, Effect.fn("expops.runs.ls")(function*({ backend, dir, json, limit }) {
  if (limit < 1) return yield* new UsageError({ message: `--limit must be at least 1 (got ${limit})` })
  const runs = yield* withRuns(dir, backend, (store) => store.listRuns({ limit }))
  if (json) return yield* Console.log(JSON.stringify(runs, null, 2))
  if (runs.length === 0) return yield* Console.log(`no runs recorded yet; run \`expops run ${dir}\``)
  const p = yield* Output.paint("stdout")
  yield* Console.log(Format.table([
    ["RUN", "STARTED", "STATUS", "DURATION", "SEED", "PROCESSES", "STEPS"],
    ...runs.map((r) => [
      r.id,
      Format.timestamp(r.startedAt),
      r.status === "success" ? p.green(r.status) : p.red(r.status),
      Format.duration(r.durationMs),
      String(r.seed),
      Format.counts(r.processes),
      Format.counts(r.steps)
    ])
  ]))
})).pipe(
  Command.withDescription("List past runs, newest first: status, duration, seed, processes and steps run and served from the cache"),
  Command.withExamples([{ command: "expops runs ls examples/quickstart", description: "The quick-start project's runs" }])
)

const show = Command.make("show", {
  dir: Flags.dir,
  run: Argument.String("run").pipe(Argument.optional, Argument.withDescription("The run id (default: the last run)")),
  json: Flags.json,
  backend: Flags.backend
}, Effect.fn("expops.runs.show")(function*({ backend, dir, json, run }) {
  const report = yield* withRuns(dir, backend, (store) => findRun(store, dir, run))
  if (json) return yield* Console.log(JSON.stringify(report, null, 2))
  yield* Console.log(Report.details(report, yield* Output.paint("stdout")))
})).pipe(
  Command.withDescription("Show one run (default: the last): every process and step with status, duration and key, and its metrics"),
  Command.withExamples([
    { command: "expops runs show examples/quickstart", description: "The last run" },
    { command: "expops runs show examples/quickstart 20261126T233204Z-3fa9c1 --json", description: "One run's report as JSON" }
  ])
)

/**
 * @since 0.1.0
 */
export const command = Command.make("runs").pipe(
  Command.withDescription("Inspect past runs"),
  Command.withSubcommands([ls, show]),
  Command.withExamples([{ command: "expops runs ls examples/quickstart", description: "List past runs" }])
)

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
