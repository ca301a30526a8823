/**
 * The `RunStore` in the project's SQLite file: one row per run (id, pipeline,
 * start, end, duration, status, seed, backend and the full report), one per
 * process and per step (status, key, duration), and one per logged metric
 * (run, process, step, name, index, value), so runs and metrics can be
 * queried with plain SQL as well as read back whole.
 *
 * The report is stored as JSON through its schema, so values JSON cannot
 * hold (a `NaN` loss) come back as they went in.
 *
 * Runs in progress (`live`): the graph a run began with, and a log of
 * changes (`run_changes`: started, progress, finished) numbered by `seq`,
 * which another process (`expops ui`) follows. Saving a run adds its
 * `finished` row, in the same transaction, and drops the progress rows of
 * runs that ended more than ten minutes before (see `SqliteRecords.writeRun`).
 *
 * @since 0.1.0
 */
import { RunReport, RunStore } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { projectPaths } from "./internal/paths.ts"
import { readTransaction, transaction } from "./internal/sqlite.ts"
import type { LocalBackendError } from "./LocalBackendError.ts"
import * as SqliteDatabase from "./SqliteDatabase.ts"
import * as SqliteRecords from "./SqliteRecords.ts"

const ReportJson = Schema.fromJsonString(Schema.toCodecJson(RunReport.RunReport))
const encodeReport = Schema.encodeSync(ReportJson)
const decodeReport = Schema.decodeUnknownExit(ReportJson)

/**
 * The run store in the `SqliteDatabase` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const { db, path: location } = yield* SqliteDatabase.SqliteDatabase

  const fail = (operation: string, cause: unknown) =>
    new RunStore.RunStoreError({
      backend: "local",
      operation,
      location,
      reason: cause instanceof Error ? cause.message : String(cause),
      cause
    })

  /** Runs a synchronous database operation; whatever it throws becomes the port's error, naming the operation. */
  const attempt = <A>(operation: string, body: () => A) => Effect.try({ try: body, catch: (cause) => fail(operation, cause) })

  const addChange = db.prepare("INSERT INTO run_changes (run_id, at, type, data) VALUES (?, ?, ?, ?)")

  const saveRun: RunStore.Shape["saveRun"] = (report) =>
    attempt(`save run ${report.run.id}`, () => SqliteRecords.writeRun(db, report, encodeReport(report)))

  type RunRow = {
    id: string
    pipeline: string
    status: "success" | "failed"
    started_at: number
    duration_ms: number
    seed: number
    backend: string
  }
  type CountRow = { run_id: string; status: string; n: number }

  const listRuns: RunStore.Shape["listRuns"] = (options) =>
    attempt("list runs", () => {
      const rows = db.prepare(
        `SELECT id, pipeline, status, started_at, duration_ms, seed, backend FROM runs
         ORDER BY started_at DESC, id DESC LIMIT ?`
      ).all(options?.limit ?? -1) as Array<RunRow>
      const count = (table: string, ids: Array<string>) => {
        const byRun = new Map<string, Record<string, number>>(ids.map((id) => [id, {}]))
        if (ids.length === 0) return byRun
        const counts = db.prepare(
          `SELECT run_id, status, count(*) AS n FROM ${table}
           WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id, status`
        ).all(JSON.stringify(ids)) as Array<CountRow>
        for (const c of counts) byRun.get(c.run_id)![c.status] = c.n
        return byRun
      }
      const ids = rows.map((r) => r.id)
      const processes = count("run_processes", ids)
      const steps = count("run_steps", ids)
      const saved = new Map(
        ids.length === 0 ? [] : (db.prepare(
          `SELECT run_id, coalesce(sum(saved_ms), 0) AS ms FROM run_processes
           WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id`
        ).all(JSON.stringify(ids)) as Array<{ run_id: string; ms: number }>).map((r) => [r.run_id, r.ms])
      )
      return rows.map((r): RunStore.RunSummary => ({
        id: r.id,
        pipeline: r.pipeline,
        status: r.status,
        startedAt: r.started_at,
        durationMs: r.duration_ms,
        seed: r.seed,
        backend: r.backend,
        processes: processes.get(r.id)!,
        steps: steps.get(r.id)!,
        savedMs: saved.get(r.id) ?? 0
      }))
    })

  const getRun: RunStore.Shape["getRun"] = Effect.fnUntraced(function*(id) {
    const row = yield* attempt(`read run ${id}`, () => db.prepare("SELECT report FROM runs WHERE id = ?").get(id) as { report: string } | undefined)
    if (row === undefined) return Option.none()
    const decoded = decodeReport(row.report)
    if (decoded._tag === "Failure") {
      return yield* fail(`read run ${id}`, "its stored report does not match the run report schema")
    }
    return Option.some(decoded.value)
  })

  type ChangeRow = { seq: number; run_id: string; at: number; type: "started" | "progress" | "finished"; data: string }
  const toChange = (row: ChangeRow): RunStore.Change =>
    row.type === "started"
      ? { _tag: "Started", seq: row.seq, at: row.at, run: JSON.parse(row.data) }
      : row.type === "finished"
      ? { _tag: "Finished", seq: row.seq, at: row.at, run: JSON.parse(row.data) }
      : { _tag: "Progress", seq: row.seq, at: row.at, runId: row.run_id, event: JSON.parse(row.data) }
  const lastSeq = () => (db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM run_changes").get() as { seq: number }).seq

  const live: RunStore.Live = {
    begin: (run) =>
      attempt(`record the start of run ${run.id}`, () =>
        transaction(db, () => {
          const graph = JSON.stringify(run)
          db.prepare("INSERT OR REPLACE INTO run_graphs (run_id, started_at, graph) VALUES (?, ?, ?)").run(run.id, run.startedAt, graph)
          addChange.run(run.id, run.startedAt, "started", graph)
        })),
    append: (runId, events) =>
      attempt(`record the progress of run ${runId}`, () =>
        transaction(db, () => {
          for (const { at, event } of events) addChange.run(runId, at, "progress", JSON.stringify(event))
        })),
    changes: (cursor, limit = 1000) =>
      attempt("read the changes of runs", () =>
        (db.prepare("SELECT seq, run_id, at, type, data FROM run_changes WHERE seq > ? ORDER BY seq LIMIT ?").all(cursor, limit) as Array<
          ChangeRow
        >).map(toChange)),
    cursor: attempt("read the changes of runs", lastSeq),
    started: (id) =>
      // One snapshot: the events and the seq they run up to agree. A read
      // transaction, not `transaction`'s immediate one: the UI following a run
      // must neither wait for the run's writes nor hold them up.
      attempt(`read run ${id} as it began`, () =>
        readTransaction(db, () => {
          const row = db.prepare("SELECT graph FROM run_graphs WHERE run_id = ?").get(id) as { graph: string } | undefined
          if (row === undefined) return Option.none()
          // Once saved, its report says it all.
          const saved = db.prepare("SELECT 1 FROM runs WHERE id = ?").get(id) !== undefined
          const events = saved ? [] : (db.prepare("SELECT at, data FROM run_changes WHERE run_id = ? AND type = 'progress' ORDER BY seq").all(id) as Array<
            { at: number; data: string }
          >).map((r): RunStore.TimedEvent => ({ at: r.at, event: JSON.parse(r.data) }))
          return Option.some({ run: JSON.parse(row.graph) as RunStore.LiveRun, events, seq: lastSeq() })
        })),
    inProgress: attempt("list the runs in progress", () =>
      (db.prepare(
        "SELECT graph FROM run_graphs WHERE run_id NOT IN (SELECT id FROM runs) ORDER BY started_at DESC"
      ).all() as Array<{ graph: string }>).map((r) => JSON.parse(r.graph) as RunStore.LiveRun))
  }

  return RunStore.RunStore.of({ saveRun, listRuns, getRun, live })
})

/**
 * @since 0.1.0
 */
export const layer: Layer.Layer<RunStore.RunStore, never, SqliteDatabase.SqliteDatabase> = Layer.effect(RunStore.RunStore, make)

/**
 * The run store of a project, in `<projectDir>/.expops/expops.sqlite`.
 *
 * @since 0.1.0
 */
export const layerProject = (projectDir: string): Layer.Layer<RunStore.RunStore, LocalBackendError> =>
  layer.pipe(Layer.provide(SqliteDatabase.layer(projectPaths(projectDir).database)))
