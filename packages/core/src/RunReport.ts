/**
 * The run report: what `Pipeline.run` returns and `expops run --json` prints.
 * Its fields are a public contract (see docs/cli.md).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { nearest } from "./internal/suggest.ts"
import { Metric } from "./Metrics.ts"

/**
 * @since 0.1.0
 */
export const StepStatus = Schema.Literals(["cached", "executed", "failed"])

/**
 * `interrupted`: the run was interrupted while the process ran (its
 * finished steps are listed and stored).
 *
 * `would-run` appears only in dry-run reports: the process would run, because
 * its entry is missing or its inputs come from an upstream that would run.
 *
 * @since 0.1.0
 */
export const ProcessStatus = Schema.Literals(["cached", "executed", "failed", "skipped", "would-run", "interrupted"])

/**
 * What a failed step or process says about its error (see `Failure`).
 *
 * @since 0.1.0
 */
export const FailureFields = {
  /** Why it failed: the error's message. */
  error: Schema.optionalKey(Schema.String),
  /** Where in the user's source the error was raised: `src/train.ts:95:12`. */
  location: Schema.optionalKey(Schema.String),
  /** The error's stack, the user's frames only. */
  stack: Schema.optionalKey(Schema.String),
  /** A tagged error's `_tag`. */
  errorTag: Schema.optionalKey(Schema.String),
  /** A tagged error's own fields. */
  errorFields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
}

/**
 * @since 0.1.0
 */
export const StepReport = Schema.Struct({
  name: Schema.String,
  status: StepStatus,
  key: Schema.String,
  durationMs: Schema.Number,
  /** Time spent waiting on another run that was computing the same key (absent when the step did not wait). */
  waitedMs: Schema.optionalKey(Schema.Number),
  ...FailureFields
})
/**
 * @since 0.1.0
 */
export type StepReport = typeof StepReport.Type

/**
 * Which branch of a fan-out a process ran in: its seed (seed parallelism)
 * and its partition, numbered from 1 (data parallelism).
 *
 * @since 0.1.0
 */
export const Branch = Schema.Struct({
  seed: Schema.optionalKey(Schema.Int),
  partition: Schema.optionalKey(Schema.Int)
})
/**
 * @since 0.1.0
 */
export type Branch = typeof Branch.Type

/**
 * @since 0.1.0
 */
export const ProcessReport = Schema.Struct({
  /** The process, or for a branch of a fan-out its own name: `train_model_seed41`, `train_model_data2_seed41`. */
  name: Schema.String,
  /** For a branch of a fan-out: the process it is a copy of (`train_model`). */
  base: Schema.optionalKey(Schema.String),
  /** For a branch of a fan-out: its seed and/or partition. */
  branch: Schema.optionalKey(Branch),
  status: ProcessStatus,
  /** Empty for a skipped process (its inputs, hence its key, are unknown). */
  key: Schema.String,
  durationMs: Schema.Number,
  /** Time the cache saved: how long the stored entry took to compute. */
  savedMs: Schema.optionalKey(Schema.Number),
  /** Time spent waiting on another run that was computing the same key (absent when the process did not wait). */
  waitedMs: Schema.optionalKey(Schema.Number),
  /** A cached process has no steps: they were not run. */
  steps: Schema.Array(StepReport),
  /** Its parameters as the config gave them, encoded by their schema (absent for a process that did not start). */
  parameters: Schema.optionalKey(Schema.Unknown),
  ...FailureFields,
  /** Cluster runs: the runner that ran it (`host:port`); absent for a process served by the driver. */
  runner: Schema.optionalKey(Schema.String),
  /** Cluster runs: how long it waited (sent, queued, returned) besides running on its runner. */
  queuedMs: Schema.optionalKey(Schema.Number),
  /** Dry runs: why the process would run. */
  reason: Schema.optionalKey(Schema.String),
  /** Dry runs: the processes it runs after (the expanded graph, branches by their own names). */
  upstream: Schema.optionalKey(Schema.Array(Schema.String))
})
/**
 * @since 0.1.0
 */
export type ProcessReport = typeof ProcessReport.Type

/**
 * @since 0.1.0
 */
export const RunReport = Schema.Struct({
  run: Schema.Struct({
    id: Schema.String,
    pipeline: Schema.String,
    status: Schema.Literals(["success", "failed", "interrupted"]),
    seed: Schema.Number,
    backend: Schema.String,
    startedAt: Schema.Number,
    durationMs: Schema.Number,
    dryRun: Schema.optionalKey(Schema.Boolean)
  }),
  processes: Schema.Array(ProcessReport),
  /** Metrics logged during the run (see `Metrics.logMetric`). */
  metrics: Schema.optionalKey(Schema.Array(Metric))
})
/**
 * @since 0.1.0
 */
export type RunReport = typeof RunReport.Type

/**
 * A run has no process by the name asked for. Names the run, the processes
 * it has and, for a near miss, the likely one.
 *
 * @since 0.1.0
 */
export class ProcessNotFoundError extends Schema.TaggedError<ProcessNotFoundError>()("ProcessNotFoundError", {
  run: Schema.String,
  name: Schema.String,
  /** The processes of the run, a fan-out's branches under their base: `train_model (3 branches: train_model_seed1, …)`. */
  known: Schema.Array(Schema.String),
  /** The nearest name the run has, when it is near enough to be a typo. */
  suggestion: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `run ${this.run} has no process ${this.name}${this.suggestion !== undefined ? `; did you mean ${this.suggestion}?` : ""}` +
      ` (processes: ${this.known.join(", ")})`
  }
}

/**
 * The processes of a run that a name given by a user stands for: the
 * process of that name, which for a fan-out is one branch
 * (`train_model_seed41`), or every branch of a process that ran as branches
 * (`train_model`), in report order. Every command that takes a process name
 * looks it up here, so all accept the same names.
 *
 * @since 0.1.0
 */
export const findProcesses = (
  report: RunReport,
  name: string
): Effect.Effect<readonly [ProcessReport, ...Array<ProcessReport>], ProcessNotFoundError> => {
  const exact = report.processes.find((p) => p.name === name)
  if (exact !== undefined) return Effect.succeed([exact])
  const branches = report.processes.filter((p) => p.base === name)
  if (branches.length > 0) return Effect.succeed(branches as unknown as readonly [ProcessReport, ...Array<ProcessReport>])
  const known: Array<string> = []
  const groups = new Map<string, Array<string>>()
  for (const p of report.processes) {
    if (p.base === undefined) known.push(p.name)
    else if (groups.has(p.base)) groups.get(p.base)!.push(p.name)
    else {
      groups.set(p.base, [p.name])
      known.push(p.base)
    }
  }
  const shown = known.map((n) => {
    const members = groups.get(n)
    if (members === undefined) return n
    const listed = members.length <= 3 ? members.join(", ") : `${members.slice(0, 2).join(", ")}, …, ${members[members.length - 1]}`
    return `${n} (${members.length} branches: ${listed})`
  })
  const suggestion = nearest(name, [...known, ...report.processes.map((p) => p.name)])
  return Effect.fail(new ProcessNotFoundError({ run: report.run.id, name, known: shown, ...(suggestion !== undefined ? { suggestion } : {}) }))
}
