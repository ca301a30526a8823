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
import type { RunEvent } from "./RunEvents.ts"
import * as RunRecords from "./RunRecords.ts"
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
export type RunSummary = RunRecords.RunSummary

/**
 * Counts the processes and steps of a report by status.
 *
 * @since 0.1.0
 */
export const summarize: (report: RunReport) => RunSummary = RunRecords.summarize

/**
 * A run as it starts, before any process finishes: what a live view draws.
 *
 * @since 0.1.0
 */
export interface LiveRun {
  readonly id: string
  readonly pipeline: string
  readonly startedAt: number
  readonly seed: number
  readonly backend: string
  /** The planned processes in order (fan-out branches by their own names), each with the processes it runs after. */
  readonly processes: ReadonlyArray<{ readonly name: string; readonly base?: string | undefined; readonly upstream: ReadonlyArray<string> }>
  /** The OS process running it, so that a reader can tell a run that died (killed) from one still going. */
  readonly pid?: number | undefined
  readonly host?: string | undefined
}

/**
 * A run event as recorded, with the time it happened.
 *
 * @since 0.1.0
 */
export interface TimedEvent {
  readonly at: number
  readonly event: RunEvent
}

/**
 * One change to the run store, in the order they happened (`seq` grows).
 *
 * @since 0.1.0
 */
export type Change =
  | { readonly _tag: "Started"; readonly seq: number; readonly at: number; readonly run: LiveRun }
  | { readonly _tag: "Progress"; readonly seq: number; readonly at: number; readonly runId: string; readonly event: RunEvent }
  | { readonly _tag: "Finished"; readonly seq: number; readonly at: number; readonly run: RunSummary }

/**
 * Runs as they go, for live views in another OS process (`expops ui`): the
 * runner records when a run begins and its events in batches; readers poll
 * `changes` from the last `seq` they saw. `saveRun` ends a live run.
 *
 * @since 0.1.0
 */
export interface Live {
  readonly begin: (run: LiveRun) => Effect.Effect<void, RunStoreError>
  readonly append: (runId: string, events: ReadonlyArray<TimedEvent>) => Effect.Effect<void, RunStoreError>
  /** The changes after `cursor`, oldest first, at most `limit` (default 1,000). */
  readonly changes: (cursor: number, limit?: number) => Effect.Effect<ReadonlyArray<Change>, RunStoreError>
  /** The `seq` of the latest change: where a new reader starts. */
  readonly cursor: Effect.Effect<number, RunStoreError>
  /**
   * A run as it began (its graph), with its events so far while it is in
   * progress (none once it is saved), and the `seq` they run up to.
   */
  readonly started: (id: string) => Effect.Effect<
    Option.Option<{ readonly run: LiveRun; readonly events: ReadonlyArray<TimedEvent>; readonly seq: number }>,
    RunStoreError
  >
  /** The runs begun and not saved yet, newest first. */
  readonly inProgress: Effect.Effect<ReadonlyArray<LiveRun>, RunStoreError>
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
  /** Runs in progress, where the store can record them (the local SQLite store does). */
  readonly live?: Live | undefined
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
  const log: Array<Change> = []
  const begun = new Map<string, LiveRun>()
  const add = (change: Change) => void log.push(change)
  const live: Live = {
    begin: (run) =>
      Effect.sync(() => {
        begun.set(run.id, run)
        add({ _tag: "Started", seq: log.length + 1, at: run.startedAt, run })
      }),
    append: (runId, events) =>
      Effect.sync(() => {
        for (const { at, event } of events) add({ _tag: "Progress", seq: log.length + 1, at, runId, event })
      }),
    changes: (cursor, limit = 1000) => Effect.sync(() => log.filter((c) => c.seq > cursor).slice(0, limit)),
    cursor: Effect.sync(() => log.length),
    started: (id) =>
      Effect.sync(() => {
        const run = begun.get(id)
        if (run === undefined) return Option.none()
        const done = runs.some((r) => r.run.id === id)
        const events = done ? [] : log.flatMap((c) => (c._tag === "Progress" && c.runId === id ? [{ at: c.at, event: c.event }] : []))
        return Option.some({ run, events, seq: log.length })
      }),
    inProgress: Effect.sync(() =>
      [...begun.values()].filter((run) => !runs.some((r) => r.run.id === run.id)).sort((a, b) => b.startedAt - a.startedAt)
    )
  }
  return {
    saveRun: (report) =>
      Effect.sync(() => {
        runs.push(report)
        add({ _tag: "Finished", seq: log.length + 1, at: report.run.startedAt + report.run.durationMs, run: summarize(report) })
      }),
    live,
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
