/**
 * The cluster entity that runs one process: one persisted message per
 * process execution, addressed by the process's cache key and deduplicated
 * by it (its primary key), so a key is computed once cluster-wide even when
 * two drivers ask at once, and a repeated ask gets the stored reply.
 *
 * The reply carries the key and what became of it, never the outputs: those
 * travel through the shared cache.
 *
 * @since 0.1.0
 */
import { RunReport } from "@expops/core"
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Entity from "effect/cluster/Entity"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"

/**
 * The fingerprints a driver and its runners must share: the code of every
 * process (`code`) and what the config makes of it (`config`: parameters,
 * fan-outs, edges, the data file's digest).
 *
 * @since 0.1.0
 */
export const Fingerprints = Schema.Struct({
  code: Schema.String,
  config: Schema.String
})
/**
 * @since 0.1.0
 */
export type Fingerprints = typeof Fingerprints.Type

/**
 * What identifies one computation cluster-wide: the process's key and its
 * seed. The key leaves the seed out, since an entry depends on it only when
 * its computation drew random numbers, which is known once it has run (see
 * `Trace`); the branches of a seed fan-out share their key, and each must
 * still be its own message, with its own reply. A process that draws none is
 * computed once all the same: its runner serves the second seed from the
 * entry of the first.
 *
 * @since 0.1.0
 */
export const workId = (key: string, seed: number): string => `${key}.${seed}`

/**
 * What a driver asks a runner to run.
 *
 * @since 0.1.0
 */
export const ExecutePayload = {
  /** The process's cache key (with its seed, the entity id and the message's primary key: see `workId`). */
  key: Schema.String,
  /** The seed the process runs with (derived from the run's root seed and its place in the plan). */
  seed: Schema.Number,
  /** The node of the plan: the process, or a fan-out branch (`train_model_seed41`). */
  node: Schema.String,
  /** The run's root seed (a seed branch has its own, from the plan). */
  rootSeed: Schema.Number,
  /** Where each upstream's outputs are stored: its cache key, by node name. */
  upstream: Schema.Record(Schema.String, Schema.String),
  /** The driver's project, for refusing a runner whose project differs. */
  project: Fingerprints
}

/**
 * What became of a process on a runner. `refused`: the runner's project
 * differs from the driver's (`runnerProject` says how).
 *
 * @since 0.1.0
 */
export const ExecuteReply = Schema.Struct({
  key: Schema.String,
  status: Schema.Literals(["executed", "cached", "failed", "refused"]),
  /** The runner that ran it: `host:port`. */
  runner: Schema.String,
  /** From the runner taking the message to its reply (the driver's `queuedMs` is its wait beyond this). */
  runnerMs: Schema.Number,
  /** How long the process itself took on the runner. */
  durationMs: Schema.Number,
  savedMs: Schema.optionalKey(Schema.Number),
  steps: Schema.Array(RunReport.StepReport),
  runnerProject: Schema.optionalKey(Fingerprints),
  ...RunReport.FailureFields
})
/**
 * @since 0.1.0
 */
export type ExecuteReply = typeof ExecuteReply.Type

/**
 * @since 0.1.0
 */
export const Execute = Rpc.make("execute", {
  payload: ExecutePayload,
  success: ExecuteReply,
  primaryKey: (payload) => workId(payload.key, payload.seed)
})
  // Stored in PostgreSQL: redelivered to another runner when its runner is lost.
  .annotate(ClusterSchema.Persisted, true)
  // A driver that is interrupted leaves the work running: run again, it re-attaches to it.
  .annotate(ClusterSchema.Uninterruptible, "client")

/**
 * @since 0.1.0
 */
export const ProcessEntity = Entity.make("ExpopsProcess", [Execute])

/**
 * The entity type, as stored in the message table.
 *
 * @since 0.1.0
 */
export const entityType = "ExpopsProcess"
