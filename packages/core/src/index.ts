/**
 * @since 0.1.0
 */

/** Digests of values that depend only on their content. */
export * as CanonicalHash from "./CanonicalHash.ts"

/** Cache maintenance: stats, list, verify, prune, clear. */
export * as CacheAdmin from "./CacheAdmin.ts"

/** The `Cache` service: lookup, verification, storage, in-run deduplication. */
export * as Cache from "./Cache.ts"

/** One computation per key across processes and machines: the lease port and its protocol. */
export * as CacheLease from "./CacheLease.ts"

/** The port every cache backend implements. */
export * as CacheStore from "./CacheStore.ts"

/** Fingerprints of the functions users write. */
export * as CodeFingerprint from "./CodeFingerprint.ts"

/** A recipe's code parts, stored once per definition apart from the manifests; read by `explain`. */
export * as CodeParts from "./CodeParts.ts"

/** Digest of the project's data file. */
export * as DataFile from "./DataFile.ts"

/** A value that cannot be encoded with its schema. */
export * as EncodeError from "./EncodeError.ts"

/** What went wrong in a step or process: message, place in the user's code, trimmed stack, tag and fields. */
export * as Failure from "./Failure.ts"

/** Why a key changed, in words. */
export * as Explain from "./Explain.ts"

/** Cache entry manifests and their verified on-store form. */
export * as Manifest from "./Manifest.ts"

/** Seed and data parallelism: fan a pipeline out over seeds and data partitions, and aggregate. */
export * as Fanout from "./Fanout.ts"

/** Metrics logged from steps and processes. */
export * as Metrics from "./Metrics.ts"

/** Pipelines: DAGs of processes. */
export * as Pipeline from "./Pipeline.ts"

/** Validation errors of a pipeline and its config. */
export * as PipelineError from "./PipelineError.ts"

/** Processes: cached groups of steps. */
export * as Process from "./Process.ts"

/** The `configs/project_config.yaml` schema. */
export * as ProjectConfig from "./ProjectConfig.ts"

/** Cache key recipes. */
export * as Recipe from "./Recipe.ts"

/** Root and derived seeds. */
export * as Reproducibility from "./Reproducibility.ts"

/** The record of past runs. */
export * as RunStore from "./RunStore.ts"

/** Events of a run, for progress and reports. */
export * as RunEvents from "./RunEvents.ts"

/** The run report. */
export * as RunReport from "./RunReport.ts"

/** The path a `node:fs` function was given (no `effect`). */
export * as FilePaths from "./FilePaths.ts"

/** Run ids and summaries, as plain functions (no `effect`). */
export * as RunRecords from "./RunRecords.ts"

/** Schema fingerprints. */
export * as SchemaFingerprint from "./SchemaFingerprint.ts"

/** Steps: cached units of work. */
export * as Step from "./Step.ts"

/** The stored form of values. */
export * as StoredValue from "./StoredValue.ts"

/** Traced dependencies: the files a body read and whether it drew random numbers. */
export * as Trace from "./Trace.ts"
