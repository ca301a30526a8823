/**
 * The run report: what `Pipeline.run` returns and `expops run --json` prints.
 * Its fields are a public contract (see docs/cli.md).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
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
  ...FailureFields
})
/**
 * @since 0.1.0
 */
export type StepReport = typeof StepReport.Type

/**
 * @since 0.1.0
 */
export const ProcessReport = Schema.Struct({
  name: Schema.String,
  status: ProcessStatus,
  /** Empty for a skipped process (its inputs, hence its key, are unknown). */
  key: Schema.String,
  durationMs: Schema.Number,
  /** Time the cache saved: how long the stored entry took to compute. */
  savedMs: Schema.optionalKey(Schema.Number),
  /** A cached process has no steps: they were not run. */
  steps: Schema.Array(StepReport),
  /** Its parameters as the config gave them, encoded by their schema (absent for a process that did not start). */
  parameters: Schema.optionalKey(Schema.Unknown),
  ...FailureFields,
  /** Dry runs: why the process would run. */
  reason: Schema.optionalKey(Schema.String)
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
