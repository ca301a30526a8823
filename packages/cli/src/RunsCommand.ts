/**
 * `expops runs ls|show|compare|plot DIR [RUN...]`: the record of past runs.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { type Metrics, type RunReport, RunStore } from "@expops/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import * as Flags from "./internal/flags.ts"
import * as Output from "./internal/output.ts"
import * as PlotCommand from "./PlotCommand.ts"
import * as Recorded from "./internal/recorded.ts"
import * as Format from "./Format.ts"
import * as Report from "./internal/report.ts"

/** Runs `f` with the project's run store, on the backend its config (or `--backend`) names. */
const withRuns = Backends.withService(RunStore.RunStore)

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
      r.status === "success" ? p.green(r.status) : r.status === "interrupted" ? p.yellow(r.status) : p.red(r.status),
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
  const report = yield* withRuns(dir, backend, () => Recorded.run(dir, run))
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
 * One line of `runs compare`: what is compared and its value in each run.
 *
 * @since 0.1.0
 */
export interface Comparison {
  readonly kind: "run" | "parameter" | "status" | "key" | "metric"
  /** `seed`, `train_model.learning_rate`, `train_model`, `accuracy (evaluate/scores)`. */
  readonly what: string
  /** Absent where the run has no such thing (a process it did not have, a metric it did not log). */
  readonly a?: unknown
  readonly b?: unknown
  readonly same: boolean
}

/** A metric's last value in a run, by process, step and name. */
const lastMetrics = (report: RunReport.RunReport): Map<string, Metrics.Metric> => {
  const last = new Map<string, Metrics.Metric>()
  for (const m of report.metrics ?? []) {
    const id = `${m.name} (${m.process}${m.step !== undefined ? `/${m.step}` : ""})`
    const prev = last.get(id)
    if (prev === undefined || m.index >= prev.index) last.set(id, m)
  }
  return last
}

const isEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * Two runs side by side: the run's seed, status and backend; each process's
 * parameters, status and key; the last value of each metric. What differs
 * comes first.
 *
 * @since 0.1.0
 */
export const compare = (a: RunReport.RunReport, b: RunReport.RunReport): Array<Comparison> => {
  const rows: Array<Comparison> = []
  const add = (kind: Comparison["kind"], what: string, va: unknown, vb: unknown) =>
    rows.push({ kind, what, ...(va !== undefined ? { a: va } : {}), ...(vb !== undefined ? { b: vb } : {}), same: isEqual(va, vb) })
  for (const field of ["status", "seed", "backend"] as const) add("run", field, a.run[field], b.run[field])
  const names = [...new Set([...a.processes, ...b.processes].map((p) => p.name))]
  const byName = (report: RunReport.RunReport, name: string) => report.processes.find((p) => p.name === name)
  for (const name of names) {
    const pa = byName(a, name)
    const pb = byName(b, name)
    const params = (p: RunReport.ProcessReport | undefined) => (p?.parameters ?? {}) as Record<string, unknown>
    for (const key of [...new Set([...Object.keys(params(pa)), ...Object.keys(params(pb))])]) {
      add("parameter", `${name}.${key}`, params(pa)[key], params(pb)[key])
    }
  }
  for (const name of names) add("status", name, byName(a, name)?.status, byName(b, name)?.status)
  for (const name of names) add("key", name, byName(a, name)?.key || undefined, byName(b, name)?.key || undefined)
  const ma = lastMetrics(a)
  const mb = lastMetrics(b)
  for (const id of [...new Set([...ma.keys(), ...mb.keys()])]) add("metric", id, ma.get(id)?.value, mb.get(id)?.value)
  // What differs first; within each group, the order above.
  return [...rows.filter((r) => !r.same), ...rows.filter((r) => r.same)]
}

const cell = (row: Comparison, value: unknown, report: RunReport.RunReport): string => {
  if (value === undefined) return "-"
  if (row.kind === "key") return Format.short(String(value))
  if (row.kind === "metric") {
    const cached = lastMetrics(report).get(row.what)?.cached === true
    return `${typeof value === "number" && !Number.isInteger(value) ? value.toFixed(4) : String(value)}${cached ? " (cached)" : ""}`
  }
  return typeof value === "string" ? value : JSON.stringify(value)
}

const compareCommand = Command.make("compare", {
  dir: Flags.dir,
  a: Argument.String("run-a").pipe(Argument.withDescription("A run id (see `expops runs ls`)")),
  b: Argument.String("run-b").pipe(Argument.withDescription("Another run id")),
  json: Flags.json,
  backend: Flags.backend
}, Effect.fn("expops.runs.compare")(function*({ a, b, backend, dir, json }) {
  const [ra, rb] = yield* withRuns(dir, backend, () => Effect.all([Recorded.run(dir, Option.some(a)), Recorded.run(dir, Option.some(b))]))
  const rows = compare(ra, rb)
  if (json) return yield* Console.log(JSON.stringify({ a: RunStore.summarize(ra), b: RunStore.summarize(rb), rows }, null, 2))
  const p = yield* Output.paint("stdout")
  const differs = rows.filter((r) => !r.same)
  const line = (r: Comparison) => [`  ${r.kind === "run" ? r.what : `${r.kind} ${r.what}`}`, cell(r, r.a, ra), cell(r, r.b, rb)]
  const table = Format.table([
    ["", `A ${ra.run.id}`, `B ${rb.run.id}`],
    [p.bold(differs.length > 0 ? `differs (${differs.length}):` : "nothing differs"), "", ""],
    ...differs.map((r) => line(r).map((c, i) => (i === 0 ? c : p.yellow(c)))),
    [p.bold("the same:"), "", ""],
    ...rows.filter((r) => r.same).map(line)
  ])
  yield* Console.log(`${ra.run.pipeline}: run A started ${Format.timestamp(ra.run.startedAt)} (took ${Format.duration(ra.run.durationMs)}), ` +
    `run B started ${Format.timestamp(rb.run.startedAt)} (took ${Format.duration(rb.run.durationMs)})\n${table}`)
})).pipe(
  Command.withDescription("Compare two runs side by side: parameters, statuses, keys and metrics, what differs first"),
  Command.withExamples([
    { command: "expops runs compare examples/quickstart 20261126T233204Z-3fa9c1 20261127T022535Z-8b1e19", description: "What changed between two runs" },
    { command: "expops runs compare . RUN_A RUN_B --json", description: "The same, as JSON" }
  ])
)

/**
 * @since 0.1.0
 */
export const command = Command.make("runs").pipe(
  Command.withDescription("Inspect past runs"),
  Command.withSubcommands([ls, show, compareCommand, PlotCommand.command]),
  Command.withExamples([{ command: "expops runs ls examples/quickstart", description: "List past runs" }])
)

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
