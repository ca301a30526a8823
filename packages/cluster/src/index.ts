/**
 * Running an ExpOps pipeline's processes on Effect Cluster runners, with
 * PostgreSQL storage (see docs/cluster.md).
 *
 * @since 0.1.0
 */

/** The errors that stop a cluster run or runner before any work. */
export * as ClusterError from "./ClusterError.ts"

/** The sharding settings, tuned for failover in seconds. */
export * as ClusterSettings from "./ClusterSettings.ts"

/** PostgreSQL: the client, its check, the runner registry, clean-up. */
export * as ClusterStorage from "./ClusterStorage.ts"

/** The driver: pre-flight checks and the `execute` that sends processes to runners. */
export * as Driver from "./Driver.ts"

/** What an executor runs for a job. */
export * as Executor from "./Executor.ts"

/** The child processes a runner computes in. */
export * as ExecutorPool from "./ExecutorPool.ts"

/** The entity that runs one process. */
export * as ProcessEntity from "./ProcessEntity.ts"

/** Fingerprints of a project and the identity of its cache. */
export * as ProjectIdentity from "./ProjectIdentity.ts"

/** A runner. */
export * as Runner from "./Runner.ts"
