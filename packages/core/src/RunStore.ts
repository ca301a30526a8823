/**
 * The run store (the "KV store" of the caching documentation): a record of
 * every run — its report, statuses, keys, durations and metrics — for
 * `expops runs` and `expops explain`. Backends implement it beside their
 * `CacheStore` (SQLite locally, objects in GCS).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { RunReport } from "./RunReport.ts"

/**
 * @since 0.1.0
 */
export class RunStoreError extends Schema.TaggedError<RunStoreError>()("RunStoreError", {
  backend: Schema.String,
  operation: Schema.String,
  location: Schema.String,
  /** A plain-words description of the cause. */
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `${this.backend} run store: could not ${this.operation} at ${this.location}: ${this.reason}`
  }
}

/**
 * One line of `expops runs ls`.
 *
 * @since 0.1.0
 */
export interface RunSummary {
  readonly id: string
  readonly pipeline: string
  readonly status: "success" | "failed" | "interrupted"
  readonly startedAt: number
  readonly durationMs: number
  readonly seed: number
  readonly backend: string
  /** Processes and steps by status. */
  readonly processes: Readonly<Record<string, number>>
  readonly steps: Readonly<Record<string, number>>
}

/**
 * Counts the processes and steps of a report by status.
 *
 * @since 0.1.0
 */
export const summarize = (report: RunReport): RunSummary => {
  const processes: Record<string, number> = {}
  const steps: Record<string, number> = {}
  for (const p of report.processes) {
    processes[p.status] = (processes[p.status] ?? 0) + 1
    for (const s of p.steps) steps[s.status] = (steps[s.status] ?? 0) + 1
  }
  const { backend, durationMs, id, pipeline, seed, startedAt, status } = report.run
  return { id, pipeline, status, startedAt, durationMs, seed, backend, processes, steps }
}

/**
 * @since 0.1.0
 */
export interface Shape {
  /** Records a finished run (its metrics are in the report). */
  readonly saveRun: (report: RunReport) => Effect.Effect<void, RunStoreError>
  /** Newest first. */
  readonly listRuns: (options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<RunSummary>, RunStoreError>
  readonly getRun: (id: string) => Effect.Effect<Option.Option<RunReport>, RunStoreError>
}

/**
 * @since 0.1.0
 */
export class RunStore extends Context.Service<RunStore, Shape>()("expops/RunStore") {}

/**
 * Runs kept in memory.
 *
 * @since 0.1.0
 */
export const makeMemory = (): Shape => {
  const runs: Array<RunReport> = []
  return {
    saveRun: (report) => Effect.sync(() => void runs.push(report)),
    listRuns: (options) =>
      Effect.sync(() =>
        runs
          .slice()
          .sort((a, b) => b.run.startedAt - a.run.startedAt)
          .slice(0, options?.limit ?? runs.length)
          .map(summarize)
      ),
    getRun: (id) => Effect.sync(() => Option.fromNullishOr(runs.find((r) => r.run.id === id)))
  }
}

/**
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<RunStore> = Layer.effect(RunStore, Effect.sync(makeMemory))
