/**
 * Errors of the CLI and the exit code each maps to: 0 success, 1 the
 * pipeline (or a maintenance check) failed, 2 bad usage or bad config.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import * as Schema from "effect/Schema"

/**
 * The command line or the project is wrong in a way the user can fix: exit 2.
 *
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String,
  /** What it was made from, when there is something: a failed write, the pipeline's validation error. */
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * A problem in a project file, located: `file:line[:column]: path: reason`. Exit 2.
 *
 * @since 0.1.0
 */
export class ProjectError extends Schema.TaggedError<ProjectError>()("ProjectError", {
  /** The file, as the user would type it (relative to the working directory). */
  file: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  column: Schema.optionalKey(Schema.Number),
  /** The dotted path in the config document, when the problem is at one. */
  path: Schema.optionalKey(Schema.String),
  reason: Schema.String,
  /** The error behind it (a failed read, a module that threw while loading), with its stack. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const at = this.line === undefined ? "" : `:${this.line}${this.column === undefined ? "" : `:${this.column}`}`
    return `${this.file}${at}: ${this.path ? `${this.path}: ` : ""}${this.reason}`
  }
}

/**
 * The work ran and failed (a failed pipeline, a failed cache check). What
 * went wrong has already been printed. Exit 1.
 *
 * @since 0.1.0
 */
export class Failed extends Schema.TaggedError<Failed>()("Failed", {
  message: Schema.String
}) {}

const USAGE_TAGS = new Set([
  "UsageError",
  "ProjectError",
  "ConfigError",
  "PipelineValidationError",
  "DataFileError",
  "BackendError",
  "ShowHelp",
  // A cluster run or runner that cannot start: the URL, PostgreSQL, the runners, the cache, the project.
  "ClusterUrlError",
  "ClusterStorageError",
  "NoRunnerError",
  "ProjectMismatchError",
  "CacheNotSharedError",
  "ExecutorError"
])

/**
 * The exit code for an error the command failed with.
 *
 * @since 0.1.0
 */
export const exitCode = (error: unknown): number => {
  const tag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
  return typeof tag === "string" && USAGE_TAGS.has(tag) ? 2 : 1
}

/**
 * Errors from core a command may end with, re-exported so that declaration
 * files can name them.
 *
 * @since 0.1.0
 */
export type CoreError =
  | Core.ProjectConfig.ConfigError
  | Core.PipelineError.PipelineValidationError
  | Core.CacheStore.CacheStoreError
  | Core.RunStore.RunStoreError
  | Core.DataFile.DataFileError
