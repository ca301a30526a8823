/**
 * The project configuration, `configs/project_config.yaml`, as a schema.
 *
 * `decode` takes the parsed YAML document and returns the config with its
 * defaults filled in, or a `ConfigError` listing every problem with its path
 * in the document, its line when known, and for unknown keys the nearest
 * valid key. `experiment:` is accepted as an alias of `model:`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaParser from "effect/SchemaParser"
import * as CacheLease from "./CacheLease.ts"
import type * as Fanout from "./Fanout.ts"
import * as Issues from "./internal/issues.ts"
import { nearest } from "./internal/suggest.ts"

const Name = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
  expected: "a name of letters, digits, '.', '_' or '-'"
}))

/** Named so that a string or a fraction both read "expected an integer", not "expected number". */
const Seed = Schema.Int.annotate({ identifier: "an integer" })

const Gcs = Schema.Struct({
  bucket: Schema.NonEmptyString,
  prefix: Schema.optionalKey(Schema.String),
  project: Schema.optionalKey(Schema.String),
  credentials: Schema.optionalKey(Schema.String),
  /** Keep a local copy of what is read from or written to the bucket. Default true. */
  local_tier: Schema.optionalKey(Schema.Boolean)
})

const Seconds = Schema.Number.check(Schema.isGreaterThan(0)).annotate({ identifier: "a number of seconds > 0" })

/** `cache.lease`: how runs computing the same key coordinate (see `CacheLease`). */
const Lease = Schema.Struct({
  heartbeat_seconds: Schema.optionalKey(Seconds),
  expiry_seconds: Schema.optionalKey(Seconds),
  max_wait_seconds: Schema.optionalKey(Seconds)
})

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({ identifier: "an integer ≥ 1" })

/** `seed_parallelism` of a process (see `Fanout`): seeds to fan out over, or the aggregation of the open seed layer. */
const SeedParallelism = Schema.Struct({
  seeds: Schema.optionalKey(Schema.Union([Seed, Schema.Array(Seed)]).annotate({ identifier: "an integer or a list of integers" })),
  aggregation: Schema.optionalKey(Schema.Boolean)
})

/** `data_parallelism` of a process: partitions of one of its outputs, or the aggregation of the open data layer. */
const DataParallelism = Schema.Struct({
  size: Schema.optionalKey(Schema.Union([Count, Schema.Array(Count)]).annotate({ identifier: "an integer ≥ 1 or a list of row counts" })),
  data_name: Schema.optionalKey(Schema.NonEmptyString),
  aggregation: Schema.optionalKey(Schema.Boolean)
})

const ProcessEntry = Schema.Struct({
  name: Schema.NonEmptyString,
  parameters: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  seed_parallelism: Schema.optionalKey(SeedParallelism),
  data_parallelism: Schema.optionalKey(DataParallelism)
})

const Model = Schema.Struct({
  parameters: Schema.optionalKey(Schema.Struct({
    cache: Schema.optionalKey(Schema.Struct({
      backend: Schema.optionalKey(Schema.Literals(["local", "gcs"])),
      gcs: Schema.optionalKey(Gcs),
      lease: Schema.optionalKey(Lease)
    })),
    pipeline: Schema.optionalKey(Schema.Struct({
      process_adjlist: Schema.optionalKey(Schema.String),
      processes: Schema.optionalKey(Schema.Array(ProcessEntry)),
      concurrency: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
      /** The most branches a fan-out may copy one process into (default 1,000): raising it confirms a larger fan-out. */
      max_branches: Schema.optionalKey(Count)
    }))
  }))
})

/**
 * The document as written (before defaults).
 *
 * @since 0.1.0
 */
export const Document = Schema.Struct({
  metadata: Schema.Struct({
    name: Name,
    description: Schema.optionalKey(Schema.String),
    version: Schema.optionalKey(Schema.String)
  }),
  scripts: Schema.optionalKey(Schema.Struct({ main: Schema.optionalKey(Schema.NonEmptyString) })),
  reproducibility: Schema.optionalKey(Schema.Struct({ seed: Schema.optionalKey(Seed) })),
  data: Schema.optionalKey(Schema.Struct({ path: Schema.optionalKey(Schema.NonEmptyString) })),
  model: Schema.optionalKey(Model),
  /** Effect Cluster runners with PostgreSQL storage (see docs/cluster.md). */
  cluster: Schema.optionalKey(Schema.Struct({
    url: Schema.NonEmptyString,
    /** How long `expops run` waits for a runner to register before giving up (default 30). */
    runner_wait_seconds: Schema.optionalKey(Count),
    /** Finished cluster messages and replies older than this are deleted when a run starts (default 24). */
    keep_replies_hours: Schema.optionalKey(Count)
  }))
})

/**
 * GCS settings with defaults applied.
 *
 * @since 0.1.0
 */
export interface GcsConfig {
  readonly bucket: string
  readonly prefix: string
  readonly project: string | undefined
  readonly credentials: string | undefined
  readonly localTier: boolean
}

/**
 * The decoded config, defaults filled in.
 *
 * @since 0.1.0
 */
export interface ProjectConfig {
  readonly name: string
  readonly description: string | undefined
  /** Module whose default export is the Pipeline, relative to the project folder. */
  readonly main: string
  readonly seed: number
  /** Data file whose content digest is part of every process key, relative to the project folder. */
  readonly dataPath: string | undefined
  readonly backend: "local" | "gcs"
  readonly gcs: GcsConfig | undefined
  /** `cache.lease`: heartbeat, expiry and longest wait of the leases runs coordinate with, defaults applied. */
  readonly lease: CacheLease.Settings
  readonly adjlist: string | undefined
  /** Raw parameters per process, decoded later by each process's own schema. */
  readonly parameters: Readonly<Record<string, Readonly<Record<string, unknown>>>>
  readonly concurrency: number | undefined
  /** Seed and data parallelism per process (`seed_parallelism`, `data_parallelism`), checked against the pipeline later. */
  readonly fanout: Readonly<Record<string, Fanout.Settings>>
  /** `max_branches`: the most branches one process may be copied into. */
  readonly maxBranches: number | undefined
  /** `model` or `experiment`: which spelling the file used, for messages. */
  readonly modelKey: "model" | "experiment"
  /** The `cluster` section: run processes on Effect Cluster runners (`undefined`: run them here). */
  readonly cluster: ClusterConfig | undefined
}

/**
 * The `cluster` section.
 *
 * @since 0.1.0
 */
export interface ClusterConfig {
  /** PostgreSQL URL of Effect Cluster's message and runner storage. */
  readonly url: string
  readonly runnerWaitSeconds: number | undefined
  readonly keepRepliesHours: number | undefined
}

/**
 * Defaults for keys the file may leave out.
 *
 * @since 0.1.0
 */
export const defaults = { main: "src/pipeline.ts", seed: 0, backend: "local", gcsPrefix: "expops" } as const

/**
 * One problem in the config file.
 *
 * @since 0.1.0
 */
export const Issue = Schema.Struct({
  /** Dotted path in the document, e.g. `model.parameters.cache.backend`. */
  path: Schema.String,
  line: Schema.optionalKey(Schema.Number),
  message: Schema.String
})
/**
 * @since 0.1.0
 */
export type Issue = typeof Issue.Type

/**
 * The config file is invalid. Lists every problem, each with where it is.
 *
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  file: Schema.String,
  issues: Schema.Array(Issue)
}) {
  override get message(): string {
    return this.issues
      .map((i) => `${this.file}${i.line !== undefined ? `:${i.line}` : ""}: ${i.path === "" ? "" : `${i.path}: `}${i.message}`)
      .join("\n")
  }
}

/**
 * @since 0.1.0
 */
export interface DecodeOptions {
  /** The file name, for messages. */
  readonly file: string
  /** Line (1-based) of the node at a path in the document, when the parser knows it. */
  readonly lineOf?: ((path: ReadonlyArray<string | number>) => number | undefined) | undefined
}

const valueAt = (doc: unknown, path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as any)[k] : undefined), doc)

const lowerFirst = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1)

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "a list"
  if (typeof value === "object") return "a mapping"
  return `${typeof value} ${JSON.stringify(value)}`
}

/**
 * Decodes a parsed config document.
 *
 * @since 0.1.0
 */
export const decode = (document: unknown, options: DecodeOptions): Effect.Effect<ProjectConfig, ConfigError> =>
  Effect.suspend(() => {
    const fail = (issues: Array<Issue>) => Effect.fail(new ConfigError({ file: options.file, issues }))
    const located = (path: ReadonlyArray<string | number>, message: string): Issue => {
      const line = options.lineOf?.(path)
      return { path: path.join("."), message, ...(line !== undefined ? { line } : {}) }
    }
    if (document === null || typeof document !== "object" || Array.isArray(document)) {
      return fail([located([], `the file must hold a mapping of keys (metadata, scripts, ...), found ${describe(document)}`)])
    }
    let doc = document as Record<string, unknown>
    let modelKey: "model" | "experiment" = "model"
    if ("experiment" in doc) {
      if ("model" in doc) return fail([located(["experiment"], "use either `model` or its alias `experiment`, not both")])
      const { experiment, ...rest } = doc
      doc = { ...rest, model: experiment }
      modelKey = "experiment"
    }
    const toFile = (path: ReadonlyArray<string | number>) => (modelKey === "experiment" && path[0] === "model" ? ["experiment", ...path.slice(1)] : path)

    const decoded = SchemaParser.decodeUnknownResult(Document)(doc, { onExcessProperty: "error", errors: "all" })
    if (Result.isFailure(decoded)) {
      const issues = Issues.leaves(decoded.failure).map((leaf) => {
        const path = leaf.path.map((key) => (typeof key === "number" ? key : String(key)))
        const filePath = toFile(path)
        switch (leaf._tag) {
          case "UnexpectedKey": {
            // At the top level, `experiment` (the alias of `model`) is valid too.
            const valid = path.length === 1 ? [...leaf.known, "experiment"] : leaf.known
            const suggestion = nearest(String(path[path.length - 1]), valid)
            return located(filePath, `unknown key${suggestion ? `; did you mean \`${suggestion}\`?` : ""} (valid here: ${valid.join(", ")})`)
          }
          case "MissingKey":
            return located(filePath, "is required")
          case "Invalid":
            // Effect's sentence ("Expected an integer") continues ours, after the path.
            return located(filePath, `${lowerFirst(leaf.message)}, found ${describe(valueAt(doc, path))}`)
        }
      })
      return fail(issues)
    }
    const d = decoded.success
    const parameters = d.model?.parameters
    const backend = parameters?.cache?.backend ?? defaults.backend
    const gcs = parameters?.cache?.gcs
    if (backend === "gcs" && gcs === undefined) {
      return fail([located(toFile(["model", "parameters", "cache", "gcs"]), "is required when backend is gcs (bucket, and optionally prefix, project, credentials)")])
    }
    const processParameters: Record<string, Record<string, unknown>> = {}
    const fanout: Record<string, Fanout.Settings> = {}
    const issues: Array<Issue> = []
    for (const [i, entry] of (parameters?.pipeline?.processes ?? []).entries()) {
      const at = (key: string) => {
        const line = options.lineOf?.(toFile(["model", "parameters", "pipeline", "processes", i, key]))
        return line !== undefined ? `${options.file}:${line}` : options.file
      }
      if (entry.name in processParameters) {
        issues.push(located(toFile(["model", "parameters", "pipeline", "processes", i, "name"]), `process ${entry.name} is listed twice`))
      }
      processParameters[entry.name] = entry.parameters ?? {}
      const seed = entry.seed_parallelism
      const data = entry.data_parallelism
      if (seed !== undefined || data !== undefined) {
        fanout[entry.name] = {
          ...(seed !== undefined ? { seed: { ...seed, at: at("seed_parallelism") } } : {}),
          ...(data !== undefined
            ? {
              data: {
                ...(data.size !== undefined ? { size: data.size } : {}),
                ...(data.data_name !== undefined ? { dataName: data.data_name } : {}),
                ...(data.aggregation !== undefined ? { aggregation: data.aggregation } : {}),
                at: at("data_parallelism")
              }
            }
            : {})
        }
      }
    }
    const lease = parameters?.cache?.lease
    if (lease?.heartbeat_seconds !== undefined && lease.expiry_seconds !== undefined && lease.expiry_seconds <= lease.heartbeat_seconds) {
      issues.push(located(
        toFile(["model", "parameters", "cache", "lease", "expiry_seconds"]),
        `must be longer than heartbeat_seconds (${lease.heartbeat_seconds}), or every lease would look stale between two heartbeats`
      ))
    }
    if (issues.length > 0) return fail(issues)
    return Effect.succeed<ProjectConfig>({
      name: d.metadata.name,
      description: d.metadata.description,
      main: d.scripts?.main ?? defaults.main,
      seed: d.reproducibility?.seed ?? defaults.seed,
      dataPath: d.data?.path,
      backend,
      gcs: gcs && {
        bucket: gcs.bucket,
        prefix: gcs.prefix ?? defaults.gcsPrefix,
        project: gcs.project,
        credentials: gcs.credentials,
        localTier: gcs.local_tier ?? true
      },
      lease: CacheLease.settings({
        heartbeatSeconds: lease?.heartbeat_seconds,
        expirySeconds: lease?.expiry_seconds,
        maxWaitSeconds: lease?.max_wait_seconds
      }),
      adjlist: parameters?.pipeline?.process_adjlist,
      parameters: processParameters,
      concurrency: parameters?.pipeline?.concurrency,
      fanout,
      maxBranches: parameters?.pipeline?.max_branches,
      modelKey,
      cluster: d.cluster && {
        url: d.cluster.url,
        runnerWaitSeconds: d.cluster.runner_wait_seconds,
        keepRepliesHours: d.cluster.keep_replies_hours
      }
    })
  })
