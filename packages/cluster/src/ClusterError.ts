/**
 * What can stop a cluster run or runner before any work, each naming what a
 * user needs to act (exit code 2 in the CLI).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Fingerprints } from "./ProcessEntity.ts"

/**
 * PostgreSQL, the cluster's storage, could not be reached or refused us.
 *
 * @since 0.1.0
 */
export class ClusterStorageError extends Schema.TaggedError<ClusterStorageError>()("ClusterStorageError", {
  host: Schema.String,
  port: Schema.Number,
  user: Schema.String,
  database: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `cluster storage: cannot use PostgreSQL at ${this.host}:${this.port} (database ${this.database}, user ${this.user}): ${this.reason}`
  }
}

/**
 * A runner lost its PostgreSQL for longer than it waits: it stops (exit 1),
 * for its supervisor to start it again once the database is back.
 *
 * @since 0.1.0
 */
export class ClusterStorageLostError extends Schema.TaggedError<ClusterStorageLostError>()("ClusterStorageLostError", {
  host: Schema.String,
  port: Schema.Number,
  seconds: Schema.Number,
  reason: Schema.String,
  /** The last failed query's error. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `cluster storage: PostgreSQL at ${this.host}:${this.port} has not answered for ${this.seconds} s (${this.reason}); ` +
      "this runner stops (its processes re-run on other runners): start it again once PostgreSQL is back"
  }
}

/**
 * The cluster URL is not a PostgreSQL URL.
 *
 * @since 0.1.0
 */
export class ClusterUrlError extends Schema.TaggedError<ClusterUrlError>()("ClusterUrlError", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cluster URL ${this.url}: ${this.reason} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)`
  }
}

/**
 * No runner joined the cluster within the wait.
 *
 * @since 0.1.0
 */
export class NoRunnerError extends Schema.TaggedError<NoRunnerError>()("NoRunnerError", {
  url: Schema.String,
  waitedSeconds: Schema.Number,
  dir: Schema.String
}) {
  override get message(): string {
    return `no cluster runner registered at ${this.url} within ${this.waitedSeconds} s: start one with ` +
      `\`expops worker ${this.dir} --cluster ${this.url}\` (on this machine or another that sees the same cache)`
  }
}

/**
 * A runner's project is not the driver's: its code or config differs.
 *
 * @since 0.1.0
 */
export class ProjectMismatchError extends Schema.TaggedError<ProjectMismatchError>()("ProjectMismatchError", {
  runner: Schema.String,
  driver: Fingerprints,
  runnerProject: Fingerprints
}) {
  override get message(): string {
    const parts = [
      this.driver.code !== this.runnerProject.code
        ? `code fingerprint ${short(this.runnerProject.code)} (this project: ${short(this.driver.code)})`
        : undefined,
      this.driver.config !== this.runnerProject.config
        ? `config fingerprint ${short(this.runnerProject.config)} (this project: ${short(this.driver.config)})`
        : undefined
    ].filter((part) => part !== undefined)
    return `cluster runner ${this.runner} runs a different project: ${parts.join(", ")}. ` +
      "Restart the workers on this version of the project (`expops worker DIR --cluster URL`)"
  }
}

/**
 * The driver and a runner do not share one cache, so results could not travel between them.
 *
 * @since 0.1.0
 */
export class CacheNotSharedError extends Schema.TaggedError<CacheNotSharedError>()("CacheNotSharedError", {
  runner: Schema.String,
  driverCache: Schema.String,
  runnerCache: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cluster runs need one cache shared by the driver and every runner, and runner ${this.runner} uses another: ` +
      `${this.reason} (this run: ${this.driverCache}; the runner: ${this.runnerCache}). ` +
      "Use the gcs backend, or the local backend on a folder every machine sees (see docs/cluster.md)"
  }
}

/**
 * A runner could not start its executor processes (the project does not load there, say).
 *
 * @since 0.1.0
 */
export class ExecutorError extends Schema.TaggedError<ExecutorError>()("ExecutorError", {
  reason: Schema.String,
  /** Set when the executor failed as the CLI fails on bad usage or config. */
  usage: Schema.optionalKey(Schema.Boolean),
  /** What failed, when it happened in this process (a spawn's errno, say). */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return this.reason
  }
}

const short = (fingerprint: string) => fingerprint.slice(0, 12)
