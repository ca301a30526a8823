/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Where a fan-out problem is, in the config's terms: a process's
 * `seed_parallelism` or `data_parallelism` (and the key inside it), or the
 * pipeline's `max_branches`.
 *
 * @since 0.1.0
 */
export const Setting = Schema.Struct({
  process: Schema.String,
  name: Schema.Literals(["seed_parallelism", "data_parallelism", "max_branches"]),
  key: Schema.optionalKey(Schema.Literals(["seeds", "size", "data_name", "aggregation"]))
})
/**
 * @since 0.1.0
 */
export type Setting = typeof Setting.Type

/**
 * One problem found when validating a pipeline against its configuration.
 *
 * @since 0.1.0
 */
export const Problem = Schema.Struct({
  /** A stable code: `cycle`, `unknown-process`, `duplicate-output`, ... */
  code: Schema.Literals([
    "duplicate-process",
    "unknown-process",
    "cycle",
    "duplicate-output",
    "output-parameter-collision",
    "missing-input",
    "invalid-parameters",
    "bad-adjlist",
    "missing-service",
    // Fan-out (see `Fanout`):
    "bad-fanout",
    "empty-seeds",
    "duplicate-seeds",
    "unknown-data-name",
    "not-splittable",
    "aggregation-without-layer",
    "aggregation-order",
    "aggregation-input",
    "nested-layer",
    "mixed-branches",
    "too-many-branches",
    "branch-name-collision"
  ]),
  /** The processes involved. */
  processes: Schema.Array(Schema.String),
  message: Schema.String,
  /**
   * The process whose configured parameters are at fault: parameters given
   * for an unknown process (`unknown-process`) or that its schema rejects
   * (`invalid-parameters`).
   */
  process: Schema.optionalKey(Schema.String),
  /** Where inside that process's parameters (`invalid-parameters`); empty for the whole record. */
  parameterPath: Schema.optionalKey(Schema.Array(Schema.Union([Schema.String, Schema.Number]))),
  /**
   * For a fan-out problem: the setting it is about, so that the CLI can point
   * at its line in the config file (`processes[i].seed_parallelism.seeds`).
   */
  setting: Schema.optionalKey(Setting)
})
/**
 * @since 0.1.0
 */
export type Problem = typeof Problem.Type

/**
 * The pipeline cannot run as configured. Lists every problem at once, each
 * naming the processes involved. Nothing has run and nothing was stored.
 *
 * @since 0.1.0
 */
export class PipelineValidationError extends Schema.TaggedError<PipelineValidationError>()("PipelineValidationError", {
  pipeline: Schema.String,
  problems: Schema.Array(Problem)
}) {
  override get message(): string {
    return `pipeline ${this.pipeline} is invalid:\n` + this.problems.map((p) => `  - ${p.message}`).join("\n")
  }
}

/**
 * The layer that provides the pipeline's services (`Pipeline.make({ layer })`,
 * or the one `expops run` takes from the pipeline module) failed to build.
 * Nothing has run.
 *
 * @since 0.1.0
 */
export class LayerError extends Schema.TaggedError<LayerError>()("LayerError", {
  pipeline: Schema.String,
  /** The error it failed with. */
  error: Schema.String,
  /** Where in the user's code, when known (`src/db.ts:12:5`). */
  location: Schema.optionalKey(Schema.String),
  /** The user's frames of the error's stack. */
  stack: Schema.optionalKey(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `the layer providing the services of pipeline ${this.pipeline} failed to build: ${this.error}` +
      (this.location !== undefined ? ` (${this.location})` : "")
  }
}
